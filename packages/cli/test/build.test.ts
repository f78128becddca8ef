// atoll build: what goes into an image, and what keeps an entry from being sealed.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import { type BuildError, buildImage, parseImage, runImage } from "../src/index.js";
import { Capture, fixture, io, root, tmp } from "./helpers.js";

const failure = async (entry: string) => {
  try {
    await buildImage({ entry, out: path.join(tmp(), "x.atoll"), conditions: ["@atoll/source"] });
  } catch (error) {
    return error as BuildError;
  }
  throw new Error(`${entry} was sealed`);
};

describe("atoll build", () => {
  it("writes one minified ES module after its manifest, with nothing left to import", async () => {
    const dir = tmp();
    const run = io(dir);
    const status = await main(
      [
        "build",
        path.join(root, "apps/hello/src/unikernel.ts"),
        "--out",
        "hello.atoll",
        "--condition",
        "@atoll/source",
      ],
      run,
    );
    expect(run.stderr.text()).toBe("");
    expect(status).toBe(0);
    expect(run.stdout.text()).toMatch(
      /^sealed hello 0\.1\.0 → hello\.atoll in \d+ ms\n {2}size {4}[\d.]+ KiB, [\d.]+ KiB gzipped\n {2}slots {3}console \(atoll\.console\/1\), time \(atoll\.time\/1\)\n/,
    );
    const text = readFileSync(path.join(dir, "hello.atoll"), "utf8");
    const parsed = parseImage(text);
    if ("kind" in parsed) throw new Error(parsed.message);
    expect(parsed.code).not.toMatch(/\bimport\s*[{("*]|\brequire\(/);
    expect(parsed.code).toMatch(/export\s*\{\s*\w+ as default\s*\};?\s*$/);
    // Only the devices of its slots are linked in.
    expect(parsed.code).toContain("console.boundary");
    expect(parsed.code).toContain("time.boundary");
    expect(parsed.code).not.toContain("netif.boundary");
    expect(parsed.code).not.toContain("block.boundary");
    // Nor the Web APIs it does not name (Fetch's classes, URL, streams).
    expect(parsed.code).not.toMatch(/getSetCookie|ReadableStream|searchParams|TextDecoder/);
  });

  it("names the import chain to node:* and to host globals, and ignores what tree-shaking removes", async () => {
    const error = await failure(fixture("apps/hosty.ts"));
    expect(error.code).toBe("ATOLL_BUILD_HOST");
    const byWhat = new Map(error.needs.map((n) => [n.what, n]));
    expect(byWhat.get("node:fs")?.chain.map((c) => path.basename(c))).toEqual([
      "hosty.ts",
      "hosty-config.ts",
      "node:fs",
    ]);
    expect(byWhat.get("process")?.at).toMatch(/hosty-config\.ts:4$/);
    expect(byWhat.get("process")?.chain.map((c) => path.basename(c))).toEqual([
      "hosty.ts",
      "hosty-config.ts",
    ]);
    expect(byWhat.has("Buffer")).toBe(false);
    expect(error.message).toMatch(
      /node:fs\n {4}import chain: .*hosty\.ts → .*hosty-config\.ts → node:fs/,
    );
  });

  it("refuses a host-only driver bound inside the image", async () => {
    const error = await failure(fixture("apps/hostdriver.ts"));
    expect(error.needs.map((n) => n.what)).toContain("@atoll/console/node");
    expect(error.message).toMatch(
      /@atoll\/console\/node \(a host-only entry point\)\n {4}import chain: .*hostdriver\.ts → @atoll\/console\/node/,
    );
  });

  it("prints the problem and exits 1 from the command line", async () => {
    const dir = tmp();
    const run = io(dir);
    expect(
      await main(["build", fixture("apps/hosty.ts"), "--condition", "@atoll/source"], run),
    ).toBe(1);
    expect(run.stderr.text()).toMatch(
      /^atoll build: .*hosty\.ts cannot be sealed: the image would need host resources/,
    );
  });

  it("warns where the image names a Web API its realm lacks; the code runs until it reaches one", async () => {
    const dir = tmp();
    const run = io(dir);
    const entry = fixture("apps/webby.ts");
    expect(
      await main(["build", entry, "--out", "webby.atoll", "--condition", "@atoll/source"], run),
    ).toBe(0);
    expect(run.stderr.text()).toMatch(
      /^warning: the image names Web APIs a sealed realm does not provide .*\n {2}structuredClone +.*webby\.ts:10\n$/,
    );
    const image = path.join(dir, "webby.atoll");
    const fine = new Capture();
    expect((await runImage(image, { stdout: fine, stderr: fine })).status).toBe(0);
    expect(fine.text()).toContain("no structuredClone needed");
    const reached = new Capture();
    const result = await runImage(image, { argv: ["--parse"], stdout: reached, stderr: reached });
    expect(result.status).toBe(1);
    expect(reached.text()).toMatch(/globalThis\.structuredClone is not a function/);
    // An image that names none is built without the warning.
    const hello = await buildImage({
      entry: path.join(root, "apps/hello/src/unikernel.ts"),
      out: path.join(dir, "hello.atoll"),
      conditions: ["@atoll/source"],
      cwd: dir,
    });
    expect(hello.webApis).toEqual([]);
  });

  it("reports an entry without a unikernel, and a missing file", async () => {
    expect((await failure(fixture("apps/hosty-config.ts"))).message).toMatch(
      /host resources|exports no unikernel/,
    );
    expect((await failure(fixture("apps/nope.ts"))).message).toMatch(/no such file/);
  });
});

describe("--help on every command", () => {
  for (const command of ["build", "inspect", "run", "new"])
    it(`atoll ${command} --help`, async () => {
      const run = io(tmp());
      expect(await main([command, "--help"], run)).toBe(0);
      expect(run.stdout.text()).toMatch(
        new RegExp(`^atoll ${command} — .*\\n\\nUsage:\\s+atoll ${command}`),
      );
    });

  it("atoll --help, no command, an unknown command", async () => {
    const ok = io(tmp());
    expect(await main(["--help"], ok)).toBe(0);
    expect(ok.stdout.text()).toContain("atoll build ENTRY [--out FILE]");
    expect(await main([], io(tmp()))).toBe(2);
    const bad = io(tmp());
    expect(await main(["frobnicate"], bad)).toBe(2);
    expect(bad.stderr.text()).toMatch(/^atoll: unknown command "frobnicate"/);
  });

  it("embeds a directory with the static store (static-kv:), and the image serves it", async () => {
    const dir = tmp();
    const built = await buildImage({
      entry: fixture("apps/assets.ts"),
      out: path.join(dir, "assets.atoll"),
      conditions: ["@atoll/source"],
      cwd: dir,
    });
    expect(built.manifest.slots).toEqual({ console: "atoll.console/1" });
    expect(built.embeddedBytes).toBeGreaterThan(50);
    const out = new Capture();
    const result = await runImage(built.path, { stdout: out, stderr: out });
    expect(out.text()).toMatch(
      /^dictionary \/docs\nvalue \/hello\.txt\nHello from a sealed store\.\ndigest [0-9a-f]{16}\n$/,
    );
    expect(result.status).toBe(0);
  });
});
