import { describe, expect, it } from "vitest";
import { blockConformance } from "../src/conformance.js";
import {
  CachedBlock,
  cache,
  MemoryBlock,
  MemoryDisk,
  memoryBlock,
  readOnly,
  slice,
} from "../src/index.js";
import { connectBlock, delegate } from "./helpers.js";

blockConformance({
  name: "memory driver",
  async setup() {
    const d = memoryBlock({ sectorCount: 256 });
    let current = await connectBlock(d);
    return {
      get block() {
        return current.block;
      },
      disconnect: () => current.stop(),
      async reopen() {
        await current.stop();
        current = await connectBlock(memoryBlock({ disk: d.disk }));
        return current.block;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "memory driver, 4 KiB sectors",
  async setup() {
    const c = await connectBlock(memoryBlock({ sectorSize: 4096, sectorCount: 300 }));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "memory driver, read-only",
  async setup() {
    const disk = new MemoryDisk({ sectorCount: 128 });
    disk.writeSectors(5, new Uint8Array(512).fill(9));
    const c = await connectBlock(memoryBlock({ disk, readOnly: true }));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "slice of a memory device",
  setup() {
    const below = new MemoryBlock(new MemoryDisk({ sectorCount: 400 }));
    const block = slice(below, { start: 100, count: 200 });
    return { block, disconnect: async () => block.close() };
  },
});

blockConformance({
  name: "slice driver",
  async setup() {
    const c = await connectBlock(slice(memoryBlock({ sectorCount: 300 }), { start: 50 }));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "readOnly of a memory device",
  setup() {
    const block = readOnly(new MemoryBlock(new MemoryDisk({ sectorCount: 100 })));
    return { block, disconnect: async () => block.close() };
  },
});

blockConformance({
  name: "readOnly driver",
  async setup() {
    const c = await connectBlock(readOnly(memoryBlock({ sectorCount: 100 })));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "cache (16 sectors) over a memory device",
  setup() {
    const block = cache(new MemoryBlock(new MemoryDisk({ sectorCount: 200 })), {
      maxBytes: 16 * 512,
    });
    return { block, disconnect: async () => block.close() };
  },
});

blockConformance({
  name: "cache driver",
  async setup() {
    const d = memoryBlock({ sectorCount: 200 });
    let current = await connectBlock(cache(d));
    return {
      get block() {
        return current.block;
      },
      disconnect: () => current.stop(),
      async reopen() {
        await current.stop();
        current = await connectBlock(cache(memoryBlock({ disk: d.disk })));
        return current.block;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

describe("memory disk", () => {
  it("allocates chunks only where written and reads zeros elsewhere", () => {
    const disk = new MemoryDisk({ sectorCount: 1 << 20 }); // 512 MiB, sparse
    disk.writeSectors(123_456, new Uint8Array(512).fill(1));
    expect(disk.allocatedBytes).toBe(64 * 1024);
    const back = new Uint8Array(1024);
    disk.readSectors(123_455, back);
    expect(back.subarray(0, 512).every((b) => b === 0)).toBe(true);
    expect(back.subarray(512).every((b) => b === 1)).toBe(true);
  });

  it("writes across chunk boundaries and round-trips through toBytes and from", () => {
    const disk = new MemoryDisk({ sectorCount: 300 });
    const data = new Uint8Array(200 * 512).map((_, i) => i % 251);
    disk.writeSectors(50, data);
    const copy = MemoryDisk.from(disk.toBytes());
    const back = new Uint8Array(data.length);
    copy.readSectors(50, back);
    expect(Buffer.compare(back, data)).toBe(0);
  });

  it("clones independently and discards by zeroing", () => {
    const disk = new MemoryDisk({ sectorCount: 256 });
    disk.writeSectors(0, new Uint8Array(256 * 512).fill(7));
    const clone = disk.clone();
    disk.discardSectors(0, 128);
    const a = new Uint8Array(512);
    disk.readSectors(0, a);
    expect(a.every((b) => b === 0)).toBe(true);
    clone.readSectors(0, a);
    expect(a.every((b) => b === 7)).toBe(true);
    expect(disk.allocatedBytes).toBe(64 * 1024);
  });

  it("rejects bad geometry with ATOLL_BLOCK_CONFIG", () => {
    expect(() => new MemoryDisk({ sectorSize: 500, sectorCount: 1 })).toThrow(
      expect.objectContaining({ code: "ATOLL_BLOCK_CONFIG" }),
    );
    expect(() => MemoryDisk.from(new Uint8Array(700))).toThrow(
      expect.objectContaining({ code: "ATOLL_BLOCK_CONFIG" }),
    );
  });
});

describe("combinators", () => {
  it("slice maps sectors onto the device below and refuses windows that do not fit", async () => {
    const disk = new MemoryDisk({ sectorCount: 100 });
    const part = slice(new MemoryBlock(disk), { start: 10, count: 20 });
    await part.write(0, new Uint8Array(512).fill(3));
    const back = new Uint8Array(512);
    disk.readSectors(10, back);
    expect(back.every((b) => b === 3)).toBe(true);
    await expect(part.read(20, new Uint8Array(512))).rejects.toMatchObject({
      code: "ATOLL_BLOCK_OUT_OF_RANGE",
    });
    expect(() => slice(new MemoryBlock(disk), { start: 90, count: 20 })).toThrow(
      expect.objectContaining({ code: "ATOLL_BLOCK_CONFIG" }),
    );
  });

  it("cache serves repeated reads from memory, stays bounded and sees writes", async () => {
    const below = new MemoryBlock(new MemoryDisk({ sectorCount: 100 }));
    let reads = 0;
    const counting = delegate(below, {
      read: (s, b) => {
        reads++;
        return below.read(s, b);
      },
    });
    const c = new CachedBlock(counting, { maxBytes: 8 * 512 });
    const buf = new Uint8Array(4 * 512);
    await c.read(0, buf);
    await c.read(0, buf);
    expect(reads).toBe(1);
    expect(c.stats.hits).toBe(4);
    await c.write(1, new Uint8Array(512).fill(5));
    await c.read(0, buf);
    expect(reads).toBe(1);
    expect(buf.subarray(512, 1024).every((b) => b === 5)).toBe(true);
    await c.read(10, new Uint8Array(20 * 512));
    expect(c.stats.cachedSectors).toBeLessThanOrEqual(8);
  });

  it("cache does not keep data a concurrent write replaced", async () => {
    const disk = new MemoryDisk({ sectorCount: 10 });
    const below = new MemoryBlock(disk);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = delegate(below, {
      read: async (s, b) => {
        await below.read(s, b); // old contents
        await gate;
      },
    });
    const c = new CachedBlock(slow);
    const reading = c.read(0, new Uint8Array(512));
    await c.write(0, new Uint8Array(512).fill(9));
    release();
    await reading;
    const back = new Uint8Array(512);
    await c.read(0, back);
    expect(back.every((b) => b === 9)).toBe(true);
  });
});
