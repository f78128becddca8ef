// atoll new: the scaffolded projects type-check and their tests pass, against
// this repository's packages (linked in place of the published ones).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import { io, root, tmp } from "./helpers.js";

const linked = ["core", "console", "clock", "entropy", "platform", "netif", "block", "kv", "tcpip"];
const built = linked.every((p) => existsSync(path.join(root, "packages", p, "dist/index.js")));
if (!built) console.warn("scaffold tests skipped: build the workspace first (pnpm build)");

/** Links what `npm install` would fetch: the @atoll packages of this workspace, TypeScript, vitest. */
function link(dir: string): void {
  const modules = path.join(dir, "node_modules");
  mkdirSync(path.join(modules, "@atoll"), { recursive: true });
  mkdirSync(path.join(modules, "@types"), { recursive: true });
  for (const p of [...linked, "cli"])
    symlinkSync(path.join(root, "packages", p), path.join(modules, "@atoll", p));
  for (const p of ["typescript", "vitest", "@types/node", "fast-check"])
    symlinkSync(path.join(root, "node_modules", p), path.join(modules, p));
}

/** Runs a Node script to its end, without blocking this process (the two checks run side by side). */
function node(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ status: number | null; output: string; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      output += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.once("close", (status) => resolve({ status, output, stdout }));
  });
}

/** Type-checks every project at once and runs every project's tests, side by side. */
async function check(dir: string, files: number): Promise<void> {
  const started = performance.now();
  const [tsc, vitest] = await Promise.all([
    node([path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir]),
    node([path.join(root, "node_modules/vitest/vitest.mjs"), "run", "--root", dir], {
      ...process.env,
      NO_COLOR: "1",
      CI: "1",
    }),
  ]);
  expect(tsc.output).toBe("");
  expect(tsc.status).toBe(0);
  expect(vitest.status, vitest.output).toBe(0);
  expect(vitest.stdout).toMatch(new RegExp(`Test Files\\s+${files} passed`));
  console.info(
    `scaffolds type-checked and tested in ${Math.round(performance.now() - started)} ms`,
  );
}

describe("atoll new", () => {
  // One project of each kind, then one type-check and one vitest run over all of them (each is slow).
  it.skipIf(!built)(
    "app and drivers: projects that type-check and whose tests pass",
    async () => {
      const parent = tmp();
      const run = io(parent);
      expect(await main(["new", "app", "greeter"], run)).toBe(0);
      expect(run.stdout.text()).toMatch(/^created app greeter in greeter\n {2}package\.json\n/);
      const pkg = JSON.parse(readFileSync(path.join(parent, "greeter/package.json"), "utf8"));
      expect(pkg.dependencies).toMatchObject({
        "@atoll/core": "^0.1.0",
        "@atoll/platform": "^0.1.0",
        "@atoll/tcpip": "^0.1.0",
      });
      expect(pkg.scripts.image).toBe("atoll build src/image.ts --out dist/greeter.atoll");
      const projects = ["greeter"];
      for (const signature of ["netif", "block", "kv", "console", "clock", "random"]) {
        expect(
          await main(["new", "driver", `my-${signature}`, "--signature", signature], io(parent)),
        ).toBe(0);
        projects.push(`my-${signature}`);
      }
      for (const p of projects) link(path.join(parent, p));
      // The projects' own tsconfig options, over all of them at once.
      const options = JSON.parse(
        readFileSync(path.join(parent, "greeter/tsconfig.json"), "utf8"),
      ).compilerOptions;
      writeFileSync(
        path.join(parent, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { ...options, typeRoots: [path.join(root, "node_modules/@types")] },
          include: projects.flatMap((p) => [`${p}/src`, `${p}/test`]),
        }),
      );
      await check(parent, projects.length);
      // The app's image entry seals: Atoll's TCP/IP inside, the link as a slot.
      const sealing = io(path.join(parent, "greeter"));
      expect(await main(["build", "src/image.ts", "--out", "dist/greeter.atoll"], sealing)).toBe(0);
      expect(sealing.stdout.text()).toMatch(/slots {3}netif \(atoll\.netif\/1\), clock/);
    },
    240_000,
  );

  it("refuses bad names, unknown signatures and non-empty directories", async () => {
    const parent = tmp();
    const bad = io(parent);
    expect(await main(["new", "app", "Bad Name"], bad)).toBe(2);
    expect(bad.stderr.text()).toMatch(/"Bad Name" is not a usable name/);
    const sig = io(parent);
    expect(await main(["new", "driver", "x", "--signature", "gpu"], sig)).toBe(2);
    expect(sig.stderr.text()).toMatch(
      /no driver template for "gpu": choose one of netif, block, kv, console, clock, random/,
    );
    expect(await main(["new", "app", "twice"], io(parent))).toBe(0);
    const again = io(parent);
    expect(await main(["new", "app", "twice"], again)).toBe(2);
    expect(again.stderr.text()).toMatch(/exists and is not empty/);
  });
});
