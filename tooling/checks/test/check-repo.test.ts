import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("../src/check-repo.mjs", import.meta.url));
const fixture = fileURLToPath(new URL("./fixture", import.meta.url));

describe("the repo check", () => {
  const run = spawnSync(process.execPath, [script], {
    env: { ...process.env, ATOLL_CHECK_ROOT: fixture, ATOLL_CHECK_SKIP_PUBLINT: "1" },
    encoding: "utf8",
  });
  const lines = run.stderr.split("\n").filter((l) => l.startsWith("  - "));
  const about = (file: string) => lines.filter((l) => l.includes(file));

  it("fails when a rule is broken", () => {
    expect(run.status).toBe(1);
  });

  it("finds node imports, Node globals and host entries anywhere in a neutral entry's import graph", () => {
    expect(about("bad/src/deep.ts:1")).toEqual([expect.stringContaining('imports "node:crypto"')]);
    expect(about("bad/src/deep.ts:2").join("\n")).toContain('uses Node\'s global "Buffer"');
    expect(about("bad/src/index.ts:8").join("\n")).toContain('uses Node\'s global "process"');
    expect(about("bad/src/index.ts:2").join("\n")).toContain(
      'imports the node entry "@atoll/sig/node"',
    );
  });

  it("finds ambient time and randomness", () => {
    expect(about("bad/src/index.ts:6").join("\n")).toContain("reads Date.now");
    expect(about("bad/src/index.ts:7").join("\n")).toContain("calls setTimeout");
    expect(about("bad/src/deep.ts:2").join("\n")).toContain("reads Math.random");
  });

  it("finds a driver imported from another construct package, and only the driver", () => {
    const imports = about("bad/src/index.ts:1");
    expect(imports).toHaveLength(1);
    expect(imports[0]).toContain('imports the driver "thingDriver" from @atoll/sig');
  });

  it("accepts a package that follows the rules", () => {
    expect(about("good/")).toEqual([]);
    // The host entry of a package is allowed to use node:*.
    expect(about("sig/src/node.ts")).toEqual([]);
  });
});
