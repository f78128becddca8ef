// Interop with GNU tar, both directions: archives the unikernel writes are
// listed and extracted by `tar`, byte for byte; archives `tar` makes (gnu,
// pax, ustar and v7 formats) are read by the unikernel, and modified by it
// in place, and `tar` still extracts the result.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MemoryBlock, MemoryDisk } from "@atoll/block";
import { fileBlock } from "@atoll/block/node";
import { VirtualTime } from "@atoll/clock";
import { afterAll, describe, expect, it } from "vitest";
import { kvRoConformance, standardFixture } from "../src/conformance.js";
import { TarKv, tarKv, tarKvRo } from "../src/index.js";
import { writeFixture } from "./fixture-dir.js";
import { connectRo, connectRw } from "./helpers.js";

const tar = spawnSync("tar", ["--version"], { encoding: "utf8" });
const haveTar = tar.status === 0 && tar.stdout.includes("GNU tar");
if (!haveTar)
  console.warn("skipping GNU tar interop tests: GNU tar is not installed (apt-get install tar)");

const tmp = mkdtempSync(path.join(tmpdir(), "atoll-tar-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name = "d") => {
  const d = path.join(tmp, `${name}${n++}`);
  mkdirSync(d);
  return d;
};

function runTar(args: string[], cwd?: string) {
  const r = spawnSync("tar", args, { encoding: "utf8", ...(cwd ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`tar ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r;
}

/** Every regular file below `dir`, as key → bytes. */
function filesOf(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${prefix}/${e.name}`);
      else if (e.isFile())
        out.set(`${prefix}/${e.name}`, new Uint8Array(readFileSync(path.join(d, e.name))));
    }
  };
  walk(dir, "");
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.compare(a, b) === 0;
}

/** GNU tar's archive of `fixture` in `format`, padded with `spare` free bytes, as an image file. */
function gnuArchive(format: string, fixture = standardFixture, spare = 1 << 20) {
  const src = fresh("src");
  writeFixture(src, fixture);
  const image = path.join(tmp, `gnu-${format}-${n++}.tar`);
  runTar(["--format", format, "-cf", image, "-C", src, "."]);
  truncateSync(image, statSync(image).size + spare);
  return { src, image };
}

for (const format of haveTar ? ["gnu", "pax", "ustar"] : []) {
  kvRoConformance({
    name: `tar (read-only, archive made by GNU tar --format=${format})`,
    async setup(fixture) {
      const { image } = gnuArchive(format, fixture);
      return connectRo(tarKvRo(), { block: fileBlock({ path: image, readOnly: true }) });
    },
    teardown: (h) => h.stop(),
  });
}

describe.skipIf(!haveTar)("GNU tar interop", () => {
  it("tar -tf lists exactly what the unikernel wrote and tar -xf extracts it byte for byte", async () => {
    const world = new VirtualTime({ epochMs: Date.UTC(2023, 8, 12, 6, 6, 6) });
    const image = path.join(tmp, `unikernel-${n++}.img`);
    writeFileSync(image, new Uint8Array(4 << 20));
    const { kv, stop } = await connectRw(tarKv(), {
      block: fileBlock({ path: image }),
      wallClock: world.wall(),
    });
    const expected = new Map<string, Uint8Array>();
    for (const [key, value] of standardFixture) {
      await kv.set(key, value);
      expected.set(key, value);
    }
    // Overwrites, removals and renames leave dead members behind: tar must skip them silently.
    await kv.set("/hello.txt", "replaced\n");
    expected.set("/hello.txt", new TextEncoder().encode("replaced\n"));
    await kv.remove("/dir/sub");
    for (const k of [...expected.keys()]) if (k.startsWith("/dir/sub/")) expected.delete(k);
    await kv.rename("/dir/a.bin", "/moved/a.bin");
    expected.set("/moved/a.bin", expected.get("/dir/a.bin")!);
    expected.delete("/dir/a.bin");
    const pathName = `/paths/${"deep/".repeat(60)}file`; // > 255 bytes: needs pax
    await kv.set(pathName, "pax path\n");
    expected.set(pathName, new TextEncoder().encode("pax path\n"));
    await kv.setPartial("/empty", 0, "now full");
    expected.set("/empty", new TextEncoder().encode("now full"));
    await stop();

    const listing = runTar(["-tf", image]);
    expect(listing.stderr).toBe("");
    expect(listing.stdout.trim().split("\n").sort()).toEqual(
      [...expected.keys()].map((k) => k.slice(1)).sort(),
    );
    const out = fresh("x");
    const extract = runTar(["-xf", image, "-C", out]);
    expect(extract.stderr).toBe("");
    const got = filesOf(out);
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, value] of expected) expect(sameBytes(got.get(key), value), key).toBe(true);
    // Modification times come from the WallClock, in whole seconds.
    const verbose = runTar(["-tvf", image, "--utc"]);
    expect(verbose.stdout).toContain("2023-09-12 06:06");
  });

  it("reads hard links as their target's bytes and leaves symbolic links out", async () => {
    const src = fresh("src");
    writeFileSync(path.join(src, "target"), "shared bytes");
    linkSync(path.join(src, "target"), path.join(src, "link"));
    symlinkSync("/etc/passwd", path.join(src, "symlink"));
    mkdirSync(path.join(src, "empty-dir"));
    const image = path.join(tmp, `links-${n++}.tar`);
    runTar(["-cf", image, "-C", src, "."]);
    truncateSync(image, statSync(image).size + 65536);
    const world = new VirtualTime();
    const { kv, stop } = await connectRw(tarKv(), {
      block: fileBlock({ path: image }),
      wallClock: world.wall(),
    });
    expect((await kv.list("/")).map((e) => [e.name, e.kind])).toEqual([
      ["empty-dir", "dictionary"],
      ["link", "value"],
      ["target", "value"],
    ]);
    expect(new TextDecoder().decode(await kv.get("/link"))).toBe("shared bytes");
    // Replacing the link's target must not change what the link holds.
    await kv.set("/target", "new target");
    expect(new TextDecoder().decode(await kv.get("/link"))).toBe("shared bytes");
    await stop();
    const out = fresh("x");
    runTar(["-xf", image, "-C", out]);
    expect(readFileSync(path.join(out, "link"), "utf8")).toBe("shared bytes");
    expect(readFileSync(path.join(out, "target"), "utf8")).toBe("new target");
    expect(existsSync(path.join(out, "empty-dir"))).toBe(true);
  });

  for (const format of ["gnu", "pax", "ustar", "v7"]) {
    it(`modifies an archive made with --format=${format} in place, and tar still extracts it`, async () => {
      const fixture =
        format === "v7" ? standardFixture.filter(([k]) => k.length < 90) : standardFixture;
      const { src, image } = gnuArchive(format, fixture);
      const world = new VirtualTime();
      const { kv, stop } = await connectRw(tarKv(), {
        block: fileBlock({ path: image }),
        wallClock: world.wall(),
      });
      const expected = filesOf(src);
      await kv.remove("/big.bin");
      expected.delete("/big.bin");
      await kv.set("/added/by/unikernel.txt", "added");
      expected.set("/added/by/unikernel.txt", new TextEncoder().encode("added"));
      await kv.set("/dir/a.bin", "rewritten");
      expected.set("/dir/a.bin", new TextEncoder().encode("rewritten"));
      await stop();
      const out = fresh("x");
      const extract = runTar(["-xf", image, "-C", out]);
      expect(extract.stderr).toBe("");
      const got = filesOf(out);
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, value] of expected) expect(sameBytes(got.get(key), value), key).toBe(true);
      const listed = runTar(["-tf", image]).stdout;
      expect(listed).not.toContain("big.bin");
      expect(listed).not.toContain("atoll-kv-deleted");
    });
  }

  it("compacts a full archive and tar still reads it", async () => {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 400 }); // 200 KiB
    const kv = await TarKv.open(new MemoryBlock(disk), world.wallClock);
    for (let i = 0; i < 40; i++) await kv.set(`/f${i % 5}`, new Uint8Array(10_000 + i).fill(i));
    const image = path.join(tmp, `compacted-${n++}.tar`);
    writeFileSync(image, disk.toBytes());
    const out = fresh("x");
    runTar(["-xf", image, "-C", out]);
    const got = filesOf(out);
    expect([...got.keys()].sort()).toEqual(["/f0", "/f1", "/f2", "/f3", "/f4"]);
    expect(got.get("/f4")!.length).toBe(10_039);
    expect(got.get("/f4")!.every((b) => b === 39)).toBe(true);
  });
});
