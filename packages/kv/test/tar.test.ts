import { MemoryBlock, MemoryDisk, memoryBlock, readOnly } from "@atoll/block";
import { VirtualTime } from "@atoll/clock";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kvRoConformance, kvRwConformance, standardFixture } from "../src/conformance.js";
import { TarKv, tarKv, tarKvRo } from "../src/index.js";
import { formatHeader, formatPax, parsePax, readNumber } from "../src/tar/format.js";
import { connectRo, connectRw } from "./helpers.js";

const MiB = 1024 * 1024;

kvRwConformance({
  name: "tar over a memory block",
  timeSlackMs: 1000,
  async setup() {
    const world = new VirtualTime({ epochMs: Date.UTC(2024, 2, 3, 4, 5, 6, 789) });
    const disk = new MemoryDisk({ sectorCount: (2 * MiB) / 512 });
    let current = await connectRw(tarKv(), {
      block: memoryBlock({ disk }),
      wallClock: world.wall(),
    });
    return {
      get kv() {
        return current.kv;
      },
      now: () => world.wallClock.now(),
      async reopen() {
        await current.stop();
        current = await connectRw(tarKv(), {
          block: memoryBlock({ disk }),
          wallClock: world.wall(),
        });
        return current.kv;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

kvRwConformance({
  name: "tar over a small 4 KiB-sector device (compaction)",
  timeSlackMs: 1000,
  propertyRuns: 10,
  async setup() {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorSize: 4096, sectorCount: 64 });
    return {
      ...(await connectRw(tarKv(), { block: memoryBlock({ disk }), wallClock: world.wall() })),
      now: () => world.wallClock.now(),
    };
  },
  teardown: (h) => h.stop(),
});

/** An archive written by the unikernel, holding `fixture`. */
async function archiveOf(fixture: typeof standardFixture, sectors = (2 * MiB) / 512) {
  const world = new VirtualTime();
  const disk = new MemoryDisk({ sectorCount: sectors });
  const kv = await TarKv.open(new MemoryBlock(disk), world.wallClock);
  for (const [key, value] of fixture) await kv.set(key, value);
  await kv.flush();
  return disk;
}

kvRoConformance({
  name: "tar (read-only, archive written by the unikernel)",
  async setup(fixture) {
    const disk = await archiveOf(fixture);
    return connectRo(tarKvRo(), { block: readOnly(memoryBlock({ disk })) });
  },
  teardown: (h) => h.stop(),
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("tar format", () => {
  it("encodes pax records whose length counts its own digits", () => {
    for (const value of ["x", "a".repeat(5), "b".repeat(96), "c".repeat(995), "é/ü"]) {
      const bytes = formatPax([["path", value]]);
      const text = new TextDecoder().decode(bytes);
      expect(Number(text.split(" ")[0])).toBe(bytes.length);
      expect(parsePax(bytes, 0).get("path")).toBe(value);
    }
  });

  it("reads octal and GNU base-256 numbers, and rejects garbage", () => {
    const field = (bytes: number[]) => {
      const b = new Uint8Array(512);
      b.set(bytes, 124);
      return readNumber(b, 124, 12);
    };
    expect(field([..."00000001750\0"].map((c) => c.charCodeAt(0)))).toBe(1000);
    expect(field([..."  1750 "].map((c) => c.charCodeAt(0)))).toBe(1000);
    expect(field([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0])).toBe(2 * 2 ** 32);
    expect(field([..."12x4"].map((c) => c.charCodeAt(0)))).toBeUndefined();
    expect(field([0xff, 0xff])).toBeUndefined();
  });
});

describe("tar store", () => {
  it("treats an all-zero device as an empty archive", async () => {
    const kv = await TarKv.open(new MemoryBlock(new MemoryDisk({ sectorCount: 64 })), undefined);
    expect(await kv.list("/")).toEqual([]);
    expect(kv.archiveBytes).toBe(0);
  });

  it("reuses the space of deleted members once the device is full", async () => {
    const world = new VirtualTime();
    const disk = new MemoryDisk({ sectorCount: 200 }); // 100 KiB
    const kv = await TarKv.open(new MemoryBlock(disk), world.wallClock);
    const value = new Uint8Array(20_000).fill(1);
    for (let i = 0; i < 50; i++) await kv.set(`/round/${i % 3}`, value);
    expect((await kv.list("/round")).length).toBe(3);
    await kv.flush();
    const again = await TarKv.open(new MemoryBlock(disk), world.wallClock);
    expect((await again.get("/round/2")).every((b) => b === 1)).toBe(true);
    expect(await code(again.set("/too-big", new Uint8Array(90_000)))).toBe("ATOLL_KV_NO_SPACE");
    expect((await again.list("/round")).length).toBe(3);
  });

  it("refuses writes when read-only", async () => {
    const disk = await archiveOf([["/a", new Uint8Array([1])]]);
    const kv = await TarKv.open(readOnly(new MemoryBlock(disk)), undefined);
    expect(await code(kv.set("/b", "x"))).toBe("ATOLL_KV_IO");
    expect(await code(kv.remove("/a"))).toBe("ATOLL_KV_IO");
    expect(await kv.exists("/a")).toBe("value");
  });
});

describe("tar bad input", () => {
  const open = async (image: Uint8Array) =>
    code(TarKv.open(new MemoryBlock(MemoryDisk.from(image)), undefined));

  it("rejects foreign data with ATOLL_KV_FORMAT, naming what it found", async () => {
    const png = new Uint8Array(4096);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(await open(png)).toBe("ATOLL_KV_FORMAT");
    const random = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff);
    expect(await open(random)).toBe("ATOLL_KV_FORMAT");
    const error = await TarKv.open(new MemoryBlock(MemoryDisk.from(png)), undefined).catch(
      (e) => e,
    );
    expect(String(error.message)).toContain("PNG");
  });

  it("rejects a damaged header checksum with ATOLL_KV_CORRUPT and its offset", async () => {
    const disk = await archiveOf([
      ["/a", new Uint8Array(600)],
      ["/b", new Uint8Array(10)],
    ]);
    const image = disk.toBytes();
    image[1536 + 10]! ^= 0xff; // the second member's header (after a's header and 2 data blocks)
    const error = await TarKv.open(new MemoryBlock(MemoryDisk.from(image)), undefined).catch(
      (e) => e,
    );
    expect(error).toMatchObject({ code: "ATOLL_KV_CORRUPT", offset: 1536 });
  });

  it("rejects a truncated archive with ATOLL_KV_CORRUPT", async () => {
    const disk = await archiveOf([["/big", new Uint8Array(50_000)]]);
    const image = disk.toBytes().subarray(0, 20 * 512);
    expect(await open(image)).toBe("ATOLL_KV_CORRUPT");
  });

  it("rejects malformed pax records with ATOLL_KV_CORRUPT", async () => {
    const image = new Uint8Array(8192);
    const bad = new TextEncoder().encode("99 path=x\n");
    image.set(
      formatHeader({
        name: new TextEncoder().encode("PaxHeaders/x"),
        size: bad.length,
        mtime: 0,
        typeflag: "x",
      }),
    );
    image.set(bad, 512);
    image.set(
      formatHeader({ name: new TextEncoder().encode("x"), size: 0, mtime: 0, typeflag: "0" }),
      1024,
    );
    expect(await open(image)).toBe("ATOLL_KV_CORRUPT");
  });

  it("never fails with anything but a typed error on mutated archives", async () => {
    const disk = await archiveOf(standardFixture.slice(0, 6), 256);
    const good = disk.toBytes().subarray(0, 64 * 512);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(good.length - 1), value: fc.nat(255) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.option(fc.nat(good.length / 512), { nil: undefined }),
        async (flips, cut) => {
          const image = good.slice();
          for (const { at, value } of flips) image[at] = value;
          const bytes = cut === undefined ? image : image.subarray(0, cut * 512);
          let kv: TarKv;
          try {
            kv = await TarKv.open(
              new MemoryBlock(MemoryDisk.from(bytes.length ? bytes : new Uint8Array(512))),
              undefined,
            );
          } catch (error) {
            expect(["ATOLL_KV_CORRUPT", "ATOLL_KV_FORMAT"]).toContain(
              (error as { code?: string }).code,
            );
            return;
          }
          // Whatever was readable reads without crashing.
          const walk = async (key: string): Promise<void> => {
            for (const e of await kv.list(key)) {
              if (e.kind === "value") await kv.get(e.key);
              else await walk(e.key);
            }
          };
          await walk("/");
        },
      ),
      { numRuns: 300 },
    );
  });
});
