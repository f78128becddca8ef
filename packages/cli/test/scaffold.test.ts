// atoll new: the scaffolded projects type-check and their tests pass, against
// this repository's packages (linked in place of the published ones).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import { io, root, tmp } from "./helpers.js";

const built = ["core", "console", "clock", "entropy", "platform"].every((p) =>
  existsSync(path.join(root, "packages", p, "dist/index.js")),
);
if (!built) console.warn("scaffold tests skipped: build the workspace first (pnpm build)");

/** Links what `npm install` would fetch: the @atoll packages of this workspace, TypeScript, vitest. */
function link(dir: string): void {
  const modules = path.join(dir, "node_modules");
  mkdirSync(path.join(modules, "@atoll"), { recursive: true });
  mkdirSync(path.join(modules, "@types"), { recursive: true });
  for (const p of ["core", "console", "clock", "entropy", "platform", "cli"])
    symlinkSync(path.join(root, "packages", p), path.join(modules, "@atoll", p));
  for (const p of ["typescript", "vitest", "@types/node"])
    symlinkSync(path.join(root, "node_modules", p), path.join(modules, p));
}

function check(dir: string, files: number): void {
  const tsc = spawnSync(
    process.execPath,
    [path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir],
    {
      encoding: "utf8",
    },
  );
  expect(tsc.stdout + tsc.stderr).toBe("");
  expect(tsc.status).toBe(0);
  const vitest = spawnSync(
    process.execPath,
    [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "--root", dir],
    {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", CI: "1" },
    },
  );
  expect(vitest.status, vitest.stdout + vitest.stderr).toBe(0);
  expect(vitest.stdout).toMatch(new RegExp(`Test Files\\s+${files} passed`));
}

describe("atoll new", () => {
  // One project of each kind, then one type-check and one vitest run over all of them (each is slow).
  it.skipIf(!built)("app and drivers: projects that type-check and whose tests pass", async () => {
    const parent = tmp();
    const run = io(parent);
    expect(await main(["new", "app", "countdown"], run)).toBe(0);
    expect(run.stdout.text()).toMatch(/^created app countdown in countdown\n {2}package\.json\n/);
    const pkg = JSON.parse(readFileSync(path.join(parent, "countdown/package.json"), "utf8"));
    expect(pkg.dependencies).toMatchObject({
      "@atoll/core": "^0.1.0",
      "@atoll/platform": "^0.1.0",
    });
    expect(pkg.scripts.image).toBe("atoll build src/unikernel.ts --out dist/countdown.atoll");
    const projects = ["countdown"];
    for (const signature of ["console", "random", "clock"]) {
      expect(
        await main(["new", "driver", `my-${signature}`, "--signature", signature], io(parent)),
      ).toBe(0);
      projects.push(`my-${signature}`);
    }
    for (const p of projects) link(path.join(parent, p));
    // The projects' own tsconfig options, over all of them at once.
    const options = JSON.parse(
      readFileSync(path.join(parent, "countdown/tsconfig.json"), "utf8"),
    ).compilerOptions;
    writeFileSync(
      path.join(parent, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { ...options, typeRoots: [path.join(root, "node_modules/@types")] },
        include: projects.flatMap((p) => [`${p}/src`, `${p}/test`]),
      }),
    );
    check(parent, projects.length);
  });

  it("refuses bad names, unknown signatures and non-empty directories", async () => {
    const parent = tmp();
    const bad = io(parent);
    expect(await main(["new", "app", "Bad Name"], bad)).toBe(2);
    expect(bad.stderr.text()).toMatch(/"Bad Name" is not a usable name/);
    const sig = io(parent);
    expect(await main(["new", "driver", "x", "--signature", "gpu"], sig)).toBe(2);
    expect(sig.stderr.text()).toMatch(
      /no driver template for "gpu": choose one of console, random, clock/,
    );
    expect(await main(["new", "app", "twice"], io(parent))).toBe(0);
    const again = io(parent);
    expect(await main(["new", "app", "twice"], again)).toBe(2);
    expect(again.stderr.text()).toMatch(/exists and is not empty/);
  });
});
