// The workspace as the release flow sees it: every package under the
// pnpm-workspace.yaml globs, and which of them are published.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

export interface WorkspacePackage {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly private: boolean;
  readonly json: Record<string, any>;
}

const GROUPS = ["packages", "apps", "tooling"];

export function workspacePackages(root = repoRoot): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const group of GROUPS) {
    const base = path.join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      const file = path.join(base, entry.name, "package.json");
      if (!entry.isDirectory() || !existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, "utf8"));
      out.push({
        name: json.name,
        version: json.version,
        dir: path.dirname(file),
        private: json.private === true,
        json,
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The packages `changeset publish` publishes: every one not marked private. */
export function publicPackages(root = repoRoot): WorkspacePackage[] {
  return workspacePackages(root).filter((p) => !p.private);
}

/** The exact version a tool is pinned at in the root package.json (typescript, vitest, ...). */
export function pinnedVersion(name: string, root = repoRoot): string {
  const json = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  const version = json.devDependencies?.[name];
  if (typeof version !== "string")
    throw new Error(`${name} is not pinned in the root package.json`);
  return version;
}
