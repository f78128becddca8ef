import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { encodeBase64 } from "../src/base64.js";
import { captureDirectory, renderStaticKvModule, staticKvPlugin } from "../src/build.js";
import { kvRoConformance } from "../src/conformance.js";
import { STATIC_KV_FORMAT, StaticKv, type StaticKvImage, staticKv } from "../src/index.js";
import { sha256Hex } from "../src/util.js";
import { writeFixture } from "./fixture-dir.js";
import { connectRo } from "./helpers.js";

const tmp = mkdtempSync(path.join(tmpdir(), "atoll-static-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d);
  return d;
};

kvRoConformance({
  name: "static (captured from a directory)",
  async setup(fixture) {
    const dir = fresh();
    writeFixture(dir, fixture);
    const { image } = await captureDirectory(dir);
    return connectRo(staticKv(image));
  },
  teardown: (h) => h.stop(),
});

kvRoConformance({
  name: "static (image built in memory)",
  async setup(fixture) {
    const image: StaticKvImage = {
      format: STATIC_KV_FORMAT,
      files: fixture.map(
        ([k, v]) => [k, 1_700_000_000_000, sha256Hex(v), encodeBase64(v)] as const,
      ),
    };
    return connectRo(staticKv(image));
  },
  teardown: (h) => h.stop(),
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("static kv build step", () => {
  it("round-trips base64 for every length", () => {
    for (let len = 0; len < 70; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 97 + len) & 0xff);
      const text = encodeBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
    }
  });

  it("captures reproducibly with SOURCE_DATE_EPOCH, skipping symbolic links", async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, "a.txt"), "a");
    mkdirSync(path.join(dir, "sub"));
    writeFileSync(path.join(dir, "sub", "b.txt"), "b");
    symlinkSync("/etc/passwd", path.join(dir, "escape"));
    process.env.SOURCE_DATE_EPOCH = "1700000000";
    try {
      const one = await captureDirectory(dir);
      const two = await captureDirectory(dir);
      expect(renderStaticKvModule(one.image)).toBe(renderStaticKvModule(two.image));
      expect(one.image.files.map((f) => [f[0], f[1]])).toEqual([
        ["/a.txt", 1_700_000_000_000],
        ["/sub/b.txt", 1_700_000_000_000],
      ]);
      expect(one.skipped).toEqual([path.join(dir, "escape")]);
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
  });

  it("the atoll-kv-static command writes a typed module that staticKv serves", async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, "index.html"), "<h1>hi</h1>");
    const out = path.join(tmp, `site-${n++}.gen.ts`);
    const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
    const run = spawnSync(
      process.execPath,
      ["--conditions=@atoll/source", "--import", "tsx", cli, dir, out],
      { cwd: fileURLToPath(new URL("..", import.meta.url)), encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("1 files");
    expect(readFileSync(out, "utf8")).toContain('import type { StaticKvImage } from "@atoll/kv"');
    const mod = (await import(pathToFileURL(out).href)) as { default: StaticKvImage };
    const { kv, stop } = await connectRo(staticKv(mod.default));
    expect(new TextDecoder().decode(await kv.get("/index.html"))).toBe("<h1>hi</h1>");
    await stop();
    const usage = spawnSync(
      process.execPath,
      ["--conditions=@atoll/source", "--import", "tsx", cli],
      {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        encoding: "utf8",
      },
    );
    expect(usage.status).toBe(2);
    expect(usage.stdout).toContain("usage: atoll-kv-static");
  });

  it("the esbuild plugin bundles `static-kv:` imports", async () => {
    const project = fresh();
    mkdirSync(path.join(project, "public", "css"), { recursive: true });
    writeFileSync(path.join(project, "public", "index.html"), "<p>bundled</p>");
    writeFileSync(path.join(project, "public", "css", "site.css"), "p{}");
    writeFileSync(
      path.join(project, "entry.js"),
      'import site from "static-kv:./public";\nexport default site;\n',
    );
    const outfile = path.join(project, "out.mjs");
    await build({
      entryPoints: [path.join(project, "entry.js")],
      bundle: true,
      format: "esm",
      outfile,
      plugins: [staticKvPlugin()],
      logLevel: "silent",
    });
    const mod = (await import(pathToFileURL(outfile).href)) as { default: StaticKvImage };
    const { kv, stop } = await connectRo(staticKv(mod.default));
    expect((await kv.list("/")).map((e) => e.key)).toEqual(["/css", "/index.html"]);
    expect(new TextDecoder().decode(await kv.get("/css/site.css"))).toBe("p{}");
    await stop();
  });
});

describe("static kv bad input", () => {
  it("rejects an image of another format with ATOLL_KV_FORMAT", async () => {
    const error = await code(
      connectRo(staticKv({ format: "something/9", files: [] } as unknown as StaticKvImage)),
    );
    expect(error).toBe("ATOLL_DEVICE_CONNECT_FAILED");
    expect(() => new StaticKv({ format: "x" } as unknown as StaticKvImage)).toThrow(
      expect.objectContaining({ code: "ATOLL_KV_FORMAT" }),
    );
  });

  it("rejects malformed entries and invalid keys with ATOLL_KV_CORRUPT", () => {
    for (const files of [[["/a", "not a time", "", ""]], [["/../a", 0, "", ""]], "nope"]) {
      expect(
        () => new StaticKv({ format: STATIC_KV_FORMAT, files } as unknown as StaticKvImage),
      ).toThrow(expect.objectContaining({ code: "ATOLL_KV_CORRUPT" }));
    }
  });

  it("reports a tampered value as ATOLL_KV_CORRUPT when read", async () => {
    const good = new TextEncoder().encode("good");
    const kv = new StaticKv({
      format: STATIC_KV_FORMAT,
      files: [
        ["/tampered", 0, sha256Hex(good), encodeBase64(new TextEncoder().encode("evil"))],
        ["/garbled", 0, sha256Hex(good), "!!!!"],
      ],
    });
    expect(await code(kv.get("/tampered"))).toBe("ATOLL_KV_CORRUPT");
    expect(await code(kv.get("/garbled"))).toBe("ATOLL_KV_CORRUPT");
    expect(await kv.exists("/tampered")).toBe("value");
  });
});
