import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { VirtualTime } from "@atoll/clock";
import { afterAll, describe, expect, it } from "vitest";
import { kvRoConformance, kvRwConformance } from "../src/conformance.js";
import { DirectoryKv, directoryKv, directoryKvRo } from "../src/node.js";
import { writeFixture } from "./fixture-dir.js";
import { connectRo, connectRw } from "./helpers.js";

const tmp = mkdtempSync(path.join(tmpdir(), "atoll-dirkv-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d);
  return d;
};

kvRwConformance({
  name: "directory",
  propertyRuns: 12,
  async setup() {
    const world = new VirtualTime({ epochMs: Date.UTC(2024, 5, 1) });
    const root = fresh();
    let current = await connectRw(directoryKv({ root }), { wallClock: world.wall() });
    return {
      get kv() {
        return current.kv;
      },
      now: () => world.wallClock.now(),
      async reopen() {
        await current.stop();
        current = await connectRw(directoryKv(), { wallClock: world.wall() }, [`--root=${root}`]);
        return current.kv;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

kvRoConformance({
  name: "directory (read-only)",
  async setup(fixture) {
    const root = fresh();
    writeFixture(root, fixture);
    return connectRo(directoryKvRo({ root }));
  },
  teardown: (h) => h.stop(),
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("directory store confinement", () => {
  const outside = fresh();
  writeFileSync(path.join(outside, "secret"), "secret");

  async function withLinks() {
    const root = fresh();
    writeFileSync(path.join(root, "inside"), "inside");
    symlinkSync(path.join(outside, "secret"), path.join(root, "file-link"));
    symlinkSync(outside, path.join(root, "dir-link"));
    symlinkSync("../../..", path.join(root, "up"));
    const world = new VirtualTime();
    return { root, ...(await connectRw(directoryKv({ root }), { wallClock: world.wall() })) };
  }

  it("does not see, read or list through symbolic links", async () => {
    const { kv, stop } = await withLinks();
    expect((await kv.list("/")).map((e) => e.name)).toEqual(["inside"]);
    expect(await kv.exists("/file-link")).toBeUndefined();
    expect(await kv.exists("/dir-link/secret")).toBeUndefined();
    expect(await code(kv.get("/file-link"))).toBe("ATOLL_KV_NOT_FOUND");
    expect(await code(kv.get("/dir-link/secret"))).toBe("ATOLL_KV_NOT_FOUND");
    expect(await code(kv.get("/up/etc/passwd"))).toBe("ATOLL_KV_NOT_FOUND");
    expect(await code(kv.list("/dir-link"))).toBe("ATOLL_KV_NOT_FOUND");
    await stop();
  });

  it("refuses to write through or over a symbolic link, and leaves the outside alone", async () => {
    const { kv, stop } = await withLinks();
    expect(await code(kv.set("/dir-link/planted", "x"))).toBe("ATOLL_KV_IO");
    expect(await code(kv.set("/file-link", "x"))).toBe("ATOLL_KV_IO");
    expect(await code(kv.setPartial("/dir-link/secret", 0, "x"))).toBe("ATOLL_KV_IO");
    expect(await code(kv.rename("/inside", "/dir-link/inside"))).toBe("ATOLL_KV_IO");
    await kv.remove("/dir-link/secret");
    expect(readdirSync(outside)).toEqual(["secret"]);
    await stop();
  });

  it("rejects keys that would climb out before touching the host", async () => {
    const { root, kv, stop } = await withLinks();
    for (const key of ["/../secret", "..", "/a/../../b"]) {
      expect(await code(kv.get(key))).toBe("ATOLL_KV_INVALID_KEY");
      expect(await code(kv.set(key, "x"))).toBe("ATOLL_KV_INVALID_KEY");
    }
    // An array whose segment is a getter: "fine" when first read, a climb afterwards (the
    // checks used to read it once and the driver again).
    const shifty = () => {
      let reads = 0;
      const key: string[] = [];
      Object.defineProperty(key, 0, {
        enumerable: true,
        get: () => (reads++ < 1 ? "fine" : "../shifted-out"),
      });
      return key;
    };
    // The segment is read once: what the checks saw is what is written.
    expect(await code(kv.set(shifty(), "x"))).toBe("ok");
    expect(readdirSync(root)).toContain("fine");
    expect(readdirSync(path.dirname(root))).not.toContain("shifted-out");
    await stop();
  });
});

describe("directory store", () => {
  it("shows empty host directories as dictionaries and hides its temporary files", async () => {
    const root = fresh();
    mkdirSync(path.join(root, "empty"));
    writeFileSync(path.join(root, "x.atoll-tmp-1-1"), "partial");
    const { kv, stop } = await connectRo(directoryKvRo({ root }));
    expect(await kv.list("/")).toEqual([{ key: "/empty", name: "empty", kind: "dictionary" }]);
    expect(await kv.lastModified("/empty")).toBe(0);
    await stop();
  });

  it("refuses a root that is missing or not a directory, unless asked to create it", async () => {
    const world = new VirtualTime();
    const missing = path.join(tmp, "missing");
    expect(await code(DirectoryKv.open(missing, world.wallClock))).toBe("ATOLL_KV_IO");
    const file = path.join(fresh(), "file");
    writeFileSync(file, "");
    expect(await code(DirectoryKv.open(file, world.wallClock))).toBe("ATOLL_KV_IO");
    const { kv, stop } = await connectRw(directoryKv({ root: missing, create: true }), {
      wallClock: world.wall(),
    });
    await kv.set("/a", "1");
    await kv.flush();
    expect(readdirSync(missing)).toEqual(["a"]);
    await stop();
  });

  it("offers only reads through the read-only driver", async () => {
    const root = fresh();
    const { kv, stop } = await connectRo(directoryKvRo({ root }));
    expect("set" in kv).toBe(false);
    expect(Object.isFrozen(kv)).toBe(true);
    await stop();
  });
});
