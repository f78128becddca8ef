// Writes a KV fixture into a host directory.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { KvFixture } from "../src/conformance.js";

export function writeFixture(dir: string, fixture: KvFixture): void {
  for (const [key, value] of fixture) {
    const file = path.join(dir, ...key.split("/").slice(1));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, value);
  }
}
