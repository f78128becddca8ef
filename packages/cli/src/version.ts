// The version of @atoll/cli, read from its package.json wherever this file ends up (src or dist).

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let cachedVersion: string | undefined;
export function ownVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "package.json");
    if (existsSync(candidate)) {
      const json = JSON.parse(readFileSync(candidate, "utf8")) as {
        name?: string;
        version?: string;
      };
      if (json.name === "@atoll/cli") return (cachedVersion = json.version ?? "0.0.0");
    }
    if (path.dirname(dir) === dir) return (cachedVersion = "0.0.0");
  }
}
