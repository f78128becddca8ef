// Shared by the tests: build fixtures into a temporary directory, capture output.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildImage } from "../src/index.js";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
export const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixture/${name}`, import.meta.url));
export const tmp = () => mkdtempSync(path.join(tmpdir(), "atoll-cli-"));

// Named switches of the tests stay among the tests of this file (and the tenders they spawn).
process.env.ATOLL_SWITCH_DIR ??= tmp();

/** Builds an entry the way the monorepo's tests resolve packages: to their TypeScript sources. */
export async function build(entry: string, dir = tmp()) {
  return buildImage({
    entry,
    out: path.join(
      dir,
      `${path.basename(path.dirname(entry))}-${path.basename(entry, ".ts")}.atoll`,
    ),
    conditions: ["@atoll/source"],
    cwd: dir,
  });
}

export class Capture extends Writable {
  readonly chunks: Buffer[] = [];
  isTTY = false;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

export function io(cwd: string) {
  return { stdout: new Capture(), stderr: new Capture(), cwd, env: {}, signals: false } as const;
}
