// The tarball check itself, on hand-made package directories: what it lets
// through and what it reports (no registry needed).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Tarball, tarballProblems } from "../src/tarball.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function pack(files: Record<string, string>, manifest: Record<string, unknown>): Tarball {
  const dir = mkdtempSync(path.join(tmpdir(), "atoll-tarball-test-"));
  dirs.push(dir);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return {
    name: "@atoll/example",
    version: "0.1.0",
    file: `${dir}.tgz`,
    dir,
    manifest,
    files: Object.keys(files).sort(),
  };
}

const base = {
  "package.json": "{}",
  "README.md": "# example",
  LICENSE: "MIT",
  "dist/index.js": "export {};",
  "dist/index.d.ts": "export {};",
};
const manifest = { name: "@atoll/example", version: "0.1.0", exports: { ".": "./dist/index.js" } };
const check = (tarball: Tarball, files: string[]) =>
  tarballProblems(tarball, {
    source: { files: ["dist", ...files, "README.md", "CHANGELOG.md", "LICENSE"] },
    hasChangelog: false,
    versions: new Map(),
    forbiddenText: ["/home/someone/atoll"],
  });

describe("tarballProblems", () => {
  it("passes a clean package", () => {
    expect(check(pack(base, manifest), [])).toEqual([]);
  });

  it("reports sources, tests and configs outside a scaffold directory", () => {
    const tarball = pack(
      { ...base, "lib/a.ts": "", "lib/a.test.js": "", "lib/tsconfig.json": "{}" },
      manifest,
    );
    expect(check(tarball, ["lib"])).toEqual([
      "lib/a.test.js: a test or benchmark file",
      "lib/a.ts: a TypeScript source (only .d.ts belongs in a tarball)",
      "lib/tsconfig.json: TypeScript build configuration",
    ]);
  });

  it("lets a declared templates/ directory hold sources, tests and configs, but not node_modules", () => {
    const scaffold = {
      ...base,
      "templates/app/src/main.ts": "",
      "templates/app/test/main.test.ts": "",
      "templates/app/tsconfig.json": "{}",
      "templates/app/node_modules/x/index.js": "",
    };
    expect(check(pack(scaffold, manifest), ["templates"])).toEqual([
      "templates/app/node_modules/x/index.js: node_modules",
    ]);
    // Undeclared, the same directory is not allowed at all.
    expect(check(pack(scaffold, manifest), []).length).toBeGreaterThan(4);
  });

  it("reports the workspace's path in a file", () => {
    const tarball = pack({ ...base, "dist/index.js": "// /home/someone/atoll/src" }, manifest);
    expect(check(tarball, [])).toEqual(["dist/index.js mentions /home/someone/atoll"]);
  });
});
