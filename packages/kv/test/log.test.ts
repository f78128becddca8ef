import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MemoryBlock, MemoryDisk, memoryBlock, readOnly } from "@atoll/block";
import { fileBlock } from "@atoll/block/node";
import { VirtualTime } from "@atoll/clock";
import { afterAll, describe, expect, it } from "vitest";
import { kvRoConformance, kvRwConformance } from "../src/conformance.js";
import { LogKv, logKv, readOnlyKv, TarKv } from "../src/index.js";
import { crc32c } from "../src/log/crc32c.js";
import { connectRo, connectRw } from "./helpers.js";

const tmp = mkdtempSync(path.join(tmpdir(), "atoll-logkv-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function memoryHarness(disk: () => MemoryDisk) {
  return async () => {
    const world = new VirtualTime({ epochMs: Date.UTC(2024, 6, 1) });
    const d = disk();
    let current = await connectRw(logKv(), {
      block: memoryBlock({ disk: d }),
      wallClock: world.wall(),
    });
    return {
      get kv() {
        return current.kv;
      },
      now: () => world.wallClock.now(),
      async reopen() {
        await current.stop();
        current = await connectRw(logKv(), {
          block: memoryBlock({ disk: d }),
          wallClock: world.wall(),
        });
        return current.kv;
      },
      stop: () => current.stop(),
    };
  };
}

kvRwConformance({
  name: "log store over a memory block",
  setup: memoryHarness(() => new MemoryDisk({ sectorCount: 2048 })),
  teardown: (h) => h.stop(),
});

kvRwConformance({
  name: "log store on a small 4 KiB-sector device (compactions)",
  propertyRuns: 15,
  setup: memoryHarness(() => new MemoryDisk({ sectorSize: 4096, sectorCount: 50 })),
  teardown: (h) => h.stop(),
});

kvRwConformance({
  name: "log store over the file driver",
  propertyRuns: 10,
  async setup() {
    const world = new VirtualTime();
    const image = path.join(tmp, `log-${n++}.img`);
    writeFileSync(image, new Uint8Array(1 << 20));
    let current = await connectRw(logKv(), {
      block: fileBlock({ path: image }),
      wallClock: world.wall(),
    });
    return {
      get kv() {
        return current.kv;
      },
      now: () => world.wallClock.now(),
      async reopen() {
        await current.stop();
        current = await connectRw(logKv(), {
          block: fileBlock({ path: image }),
          wallClock: world.wall(),
        });
        return current.kv;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

kvRoConformance({
  name: "log store (read-only view)",
  async setup(fixture) {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 4096 });
    const kv = await LogKv.open(new MemoryBlock(disk), world.wallClock);
    for (const [key, value] of fixture) await kv.set(key, value);
    await kv.close();
    return connectRo(readOnlyKv(logKv()), {
      block: readOnly(memoryBlock({ disk })),
      wallClock: world.wall(),
    });
  },
  teardown: (h) => h.stop(),
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("log store", () => {
  it("computes CRC-32C", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    const long = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    expect(crc32c(long.subarray(500), crc32c(long.subarray(0, 500)))).toBe(crc32c(long));
  });

  it("compacts into the other half when the log fills, keeping every live value", async () => {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 130 }); // two halves of 64 sectors
    const kv = await LogKv.open(new MemoryBlock(disk), world.wallClock);
    for (let i = 0; i < 300; i++) await kv.set(`/k${i % 7}`, new Uint8Array(200).fill(i & 0xff));
    const stats = kv.stats();
    expect(stats.compactions).toBeGreaterThanOrEqual(2);
    expect(stats.values).toBe(7);
    await kv.close();
    const again = await LogKv.open(new MemoryBlock(disk), world.wallClock);
    for (let k = 0; k < 7; k++) {
      const last = 299 - ((299 - k) % 7);
      expect((await again.get(`/k${k}`)).every((b) => b === (last & 0xff))).toBe(true);
    }
  });

  it("says no space when the live values cannot fit one half, and stays usable", async () => {
    const world = new VirtualTime();
    const kv = await LogKv.open(
      new MemoryBlock(new MemoryDisk({ sectorCount: 130 })),
      world.wallClock,
    );
    await kv.set("/small", "ok");
    expect(await code(kv.set("/huge", new Uint8Array(40_000)))).toBe("ATOLL_KV_NO_SPACE");
    await kv.set("/another", "fine");
    expect(new TextDecoder().decode(await kv.get("/small"))).toBe("ok");
  });

  it("flushes after every change with autoFlush", async () => {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 256 });
    let flushes = 0;
    const block = new MemoryBlock(disk);
    const counting = Object.assign(Object.create(null), {
      info: () => block.info(),
      read: (s: number, b: Uint8Array) => block.read(s, b),
      write: (s: number, b: Uint8Array) => block.write(s, b),
      discard: (s: number, c: number) => block.discard(s, c),
      flush: () => {
        flushes++;
        return block.flush();
      },
    });
    const kv = await LogKv.open(counting, world.wallClock, { autoFlush: true });
    const before = flushes;
    await kv.set("/a", "1");
    await kv.set("/b", "2");
    expect(flushes - before).toBeGreaterThanOrEqual(2);
  });

  it("refuses writes on a read-only device but reads", async () => {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 256 });
    const kv = await LogKv.open(new MemoryBlock(disk), world.wallClock);
    await kv.set("/a", "1");
    await kv.close();
    const ro = await LogKv.open(readOnly(new MemoryBlock(disk)), world.wallClock);
    expect(await code(ro.set("/b", "2"))).toBe("ATOLL_KV_IO");
    expect(new TextDecoder().decode(await ro.get("/a"))).toBe("1");
    await ro.flush();
  });
});

describe("log store bad input", () => {
  const world = new VirtualTime();
  async function storeWith(values: number, sectorCount = 512) {
    const disk = new MemoryDisk({ sectorCount });
    const kv = await LogKv.open(new MemoryBlock(disk), world.wallClock);
    for (let i = 0; i < values; i++) {
      await kv.set(`/v${i}`, new Uint8Array(700).fill(i));
      await kv.flush();
    }
    return { disk, kv };
  }
  const open = (disk: MemoryDisk, options = {}) =>
    LogKv.open(new MemoryBlock(disk), world.wallClock, options);

  it("refuses a device holding something else with ATOLL_KV_FORMAT", async () => {
    const tarDisk = new MemoryDisk({ sectorCount: 256 });
    const tar = await TarKv.open(new MemoryBlock(tarDisk), world.wallClock);
    await tar.set("/file", "x");
    const error = await open(tarDisk).catch((e) => e);
    expect(error).toMatchObject({ code: "ATOLL_KV_FORMAT" });
    expect(String(error.message)).toContain("tar archive");
    const noise = MemoryDisk.from(
      Uint8Array.from({ length: 256 * 512 }, (_, i) => (i * 131) & 0xff),
    );
    expect(await code(open(noise))).toBe("ATOLL_KV_FORMAT");
  });

  it("formats a foreign device only when asked to", async () => {
    const noise = MemoryDisk.from(
      Uint8Array.from({ length: 256 * 512 }, (_, i) => (i * 131) & 0xff),
    );
    const kv = await open(noise, { format: "always" });
    expect(await kv.list("/")).toEqual([]);
    await kv.set("/x", "y");
    await kv.close();
    expect(new TextDecoder().decode(await (await open(noise)).get("/x"))).toBe("y");
  });

  it("rejects damaged superblocks and a truncated image with ATOLL_KV_CORRUPT", async () => {
    const { disk, kv } = await storeWith(3);
    await kv.close();
    const image = disk.toBytes();
    const bothBad = image.slice();
    bothBad[30]! ^= 1;
    bothBad[512 + 30]! ^= 1;
    expect(await code(open(MemoryDisk.from(bothBad)))).toBe("ATOLL_KV_CORRUPT");
    const truncated = MemoryDisk.from(image.subarray(0, 300 * 512));
    expect(await code(open(truncated))).toBe("ATOLL_KV_CORRUPT");
  });

  it("survives one damaged superblock slot by using the other", async () => {
    const { disk, kv } = await storeWith(3);
    await kv.close();
    const image = disk.toBytes();
    // Damage whichever slot is newer: the store falls back to the older, still consistent one.
    const a = new DataView(image.buffer).getUint32(24, true);
    const b = new DataView(image.buffer).getUint32(512 + 24, true);
    image[(a > b ? 0 : 512) + 40]! ^= 0xff;
    const again = await open(MemoryDisk.from(image));
    expect((await again.get("/v2"))[0]).toBe(2);
  });

  it("reports a damaged record followed by durable ones, instead of losing them", async () => {
    const { disk, kv } = await storeWith(6);
    const { activeHalf } = kv.stats();
    await kv.close();
    const image = disk.toBytes();
    const halfStart = (2 + activeHalf * 255) * 512;
    image[halfStart + 2 * 1024 + 100]! ^= 0x55; // inside the third record's sectors
    const damaged = MemoryDisk.from(image);
    const error = await open(damaged).catch((e) => e);
    expect(error).toMatchObject({ code: "ATOLL_KV_CORRUPT" });
    const repaired = await open(damaged, { repair: true });
    expect((await repaired.list("/")).map((e) => e.name)).toEqual(["v0", "v1"]);
  });

  it("reports damage at the end of the log after a clean close", async () => {
    const { disk, kv } = await storeWith(4);
    const { activeHalf, logBytes } = kv.stats();
    await kv.close();
    const image = disk.toBytes();
    image[(2 + activeHalf * 255) * 512 + logBytes - 10]! ^= 1;
    expect(await code(open(MemoryDisk.from(image)))).toBe("ATOLL_KV_CORRUPT");
  });

  it("detects a damaged value on read", async () => {
    const { disk, kv } = await storeWith(2);
    const { activeHalf } = kv.stats();
    const image = disk.clone();
    const sector = new Uint8Array(512);
    image.readSectors(2 + activeHalf * 255 + 1, sector);
    sector[100]! ^= 0xff;
    disk.writeSectors(2 + activeHalf * 255 + 1, sector);
    expect(await code(kv.get("/v0"))).toBe("ATOLL_KV_CORRUPT");
    expect((await kv.get("/v1"))[0]).toBe(1);
  });

  it("refuses devices too small to hold a store", async () => {
    expect(await code(open(new MemoryDisk({ sectorCount: 5 })))).toBe("ATOLL_KV_NO_SPACE");
  });
});
