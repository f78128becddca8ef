import { SeededRandom } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import { blockConformance } from "../src/conformance.js";
import {
  applySurvivors,
  CrashSimBlock,
  crashSim,
  MemoryBlock,
  MemoryDisk,
  memoryBlock,
  randomCrashPlan,
  survivingWrites,
} from "../src/index.js";
import { connectBlock } from "./helpers.js";

blockConformance({
  name: "crashSim over a memory device",
  setup() {
    const disk = new MemoryDisk({ sectorCount: 128 });
    let block = new CrashSimBlock(new MemoryBlock(disk));
    return {
      get block() {
        return block;
      },
      disconnect: async () => block.close(),
      async reopen() {
        block.close();
        block = new CrashSimBlock(new MemoryBlock(disk));
        return block;
      },
    };
  },
});

blockConformance({
  name: "crashSim driver",
  async setup() {
    const c = await connectBlock(crashSim(memoryBlock({ sectorCount: 100 })));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

const S = 512;
const filled = (v: number, sectors = 1) => new Uint8Array(S * sectors).fill(v);
const sectorValue = (disk: MemoryDisk, sector: number) => {
  const b = new Uint8Array(S);
  disk.readSectors(sector, b);
  return b[0];
};

async function scenario() {
  const disk = new MemoryDisk({ sectorCount: 16 });
  const sim = new CrashSimBlock(new MemoryBlock(disk));
  await sim.write(0, filled(1));
  await sim.flush();
  await sim.write(0, filled(2)); // write 1: sector 0
  await sim.write(1, filled(3, 2)); // write 2: sectors 1, 2
  await sim.write(0, filled(4)); // write 3: sector 0 again
  return { disk, sim };
}

describe("crashSim", () => {
  it("keeps unflushed writes out of the device below, but reads see them", async () => {
    const { disk, sim } = await scenario();
    expect(sectorValue(disk, 0)).toBe(1);
    const b = new Uint8Array(3 * S);
    await sim.read(0, b);
    expect([b[0], b[S], b[2 * S]]).toEqual([4, 3, 3]);
    expect(sim.pending.map((w) => [w.sector, w.write])).toEqual([
      [0, 1],
      [1, 2],
      [2, 2],
      [0, 3],
    ]);
    await sim.flush();
    expect([sectorValue(disk, 0), sectorValue(disk, 1), sectorValue(disk, 2)]).toEqual([4, 3, 3]);
    expect(sim.pending).toEqual([]);
  });

  it("loses every unflushed write with keep: none, and then refuses operations", async () => {
    const { disk, sim } = await scenario();
    await sim.crash({ keep: "none" });
    expect([sectorValue(disk, 0), sectorValue(disk, 1)]).toEqual([1, 0]);
    await expect(sim.read(0, filled(0))).rejects.toMatchObject({ code: "ATOLL_DISCONNECTED" });
    await expect(sim.flush()).rejects.toMatchObject({ code: "ATOLL_DISCONNECTED" });
  });

  it("keeps a prefix of the sector writes in order", async () => {
    const { disk, sim } = await scenario();
    await sim.crash({ keep: "prefix", count: 2 }); // write 1, and half of write 2
    expect([sectorValue(disk, 0), sectorValue(disk, 1), sectorValue(disk, 2)]).toEqual([2, 3, 0]);
  });

  it("keeps any subset, applying kept writes in issue order", async () => {
    const { disk, sim } = await scenario();
    await sim.crash({ keep: "subset", choose: (w) => w.write !== 3 && w.sector !== 1 });
    expect([sectorValue(disk, 0), sectorValue(disk, 1), sectorValue(disk, 2)]).toEqual([2, 0, 3]);
  });

  it("tears a sector: new bytes before the offset, old bytes after", async () => {
    const { disk, sim } = await scenario();
    await sim.crash({ keep: "subset", choose: (_w, i) => (i === 0 ? 100 : false) });
    const b = new Uint8Array(S);
    disk.readSectors(0, b);
    expect([b[0], b[99], b[100], b[S - 1]]).toEqual([2, 2, 1, 1]);
  });

  it("builds crash images without disturbing the running device", async () => {
    const { disk, sim } = await scenario();
    const image = disk.clone();
    applySurvivors(image, survivingWrites(sim.pending, { keep: "all" }));
    expect(sectorValue(image, 0)).toBe(4);
    expect(sectorValue(disk, 0)).toBe(1);
    await sim.write(5, filled(9)); // still running
    expect(sim.writeCount).toBe(5);
  });

  it("draws reproducible random plans from a seed", async () => {
    const { sim } = await scenario();
    const draw = (seed: number) => {
      const random = new SeededRandom(seed);
      return Array.from({ length: 20 }, () => {
        const plan = randomCrashPlan(random, sim.pending, { torn: true });
        return JSON.stringify(survivingWrites(sim.pending, plan).map((w) => [w.sector, w.tornAt]));
      });
    };
    expect(draw(7)).toEqual(draw(7));
    expect(new Set(draw(7)).size).toBeGreaterThan(3);
  });

  it("calls onWrite at each write, a crash point", async () => {
    const sim = new CrashSimBlock(new MemoryBlock(new MemoryDisk({ sectorCount: 8 })));
    const seen: number[] = [];
    sim.onWrite = (d) => seen.push(d.pending.length);
    await sim.write(0, filled(1, 2));
    await sim.write(3, filled(1));
    await sim.flush();
    await sim.write(4, filled(1));
    expect(seen).toEqual([2, 3, 1]);
  });

  it("exposes the device of a crashSim driver for the test to crash", async () => {
    const inner = memoryBlock({ sectorCount: 64 });
    const d = crashSim(inner);
    const c = await connectBlock(d);
    await c.block.write(0, filled(5));
    await c.block.write(1, filled(6));
    await d.device!.crash({ keep: "prefix", count: 1 });
    await c.stop();
    expect([sectorValue(inner.disk, 0), sectorValue(inner.disk, 1)]).toEqual([5, 0]);
  });
});
