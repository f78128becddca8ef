// --mem: an image that exceeds its memory is stopped with a clear message, and
// the tender (this process) carries on.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import type { BuildResult } from "../src/index.js";
import { build, fixture, io, root, tmp } from "./helpers.js";

let dir: string;
let hog: BuildResult;
let hello: BuildResult;

beforeAll(async () => {
  dir = tmp();
  [hog, hello] = await Promise.all([
    build(fixture("apps/hog.ts"), dir),
    build(path.join(root, "apps/hello/src/unikernel.ts"), dir),
  ]);
});

describe("--mem", () => {
  for (const what of ["heap", "buffers", "buffers-sync"])
    it(`stops an image that fills its ${what === "heap" ? "heap" : "memory with array buffers"}${what.endsWith("sync") ? " without yielding" : ""}`, async () => {
      const run = io(dir);
      const status = await main(["run", hog.path, "--mem=32", "--", `--what=${what}`], run);
      expect(run.stdout.text()).toBe(`hogging ${what}\n`);
      expect(run.stderr.text()).toMatch(/atoll run: hog exceeded its memory \(--mem=32\)/);
      expect(status).toBe(255);
    });

  it("leaves the tender running the next image", async () => {
    const run = io(dir);
    expect(await main(["run", hello.path, "--mem=32", "--", "--times=1"], run)).toBe(0);
    expect(run.stdout.text()).toBe("Hello World!\n");
  });
});
