// The boundary drivers (what an image sees) pass the same conformance suites
// as every other driver of their signatures.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Block, MemoryBlock, MemoryDisk } from "@atoll/block";
import { blockConformance } from "@atoll/block/conformance";
import type { MonotonicClock, Time, WallClock } from "@atoll/clock";
import { VirtualTime } from "@atoll/clock";
import {
  monotonicClockConformance,
  timeConformance,
  wallClockConformance,
} from "@atoll/clock/conformance";
import type { Console } from "@atoll/console";
import { consoleConformance } from "@atoll/console/conformance";
import type { Random } from "@atoll/entropy";
import { randomConformance } from "@atoll/entropy/conformance";
import { type KvRo, type KvRw, readOnlyView } from "@atoll/kv";
import { kvRoConformance, kvRwConformance } from "@atoll/kv/conformance";
import { DirectoryKv } from "@atoll/kv/node";
import { MemorySwitch, type Netif } from "@atoll/netif";
import { netifConformance } from "@atoll/netif/conformance";
import { afterAll } from "vitest";
import {
  blockSlot,
  clockSlot,
  consoleSlot,
  kvSlot,
  netSlot,
  randomSlot,
  timeSlot,
  wallClockSlot,
} from "../src/image/devices.js";
import { machineHarness } from "./harness.js";

const slot = (kind: string, extra: object = {}) =>
  ({ name: kind, signature: "", kind, index: 1, ...extra }) as never;

consoleConformance({
  name: "console.boundary",
  async setup() {
    const h = machineHarness();
    const console = (await h.connect(consoleSlot(slot("console"), h.machine))) as Console;
    return {
      console,
      h,
      written: async () => {
        await console.flush();
        return h.written();
      },
      feed: (data: Uint8Array) => h.feed(data),
      endInput: () => h.endInput(),
    };
  },
  teardown: ({ h }) => h.close(),
});

monotonicClockConformance({
  name: "clock.boundary-monotonic",
  async setup() {
    const h = machineHarness();
    return { h, clock: (await h.connect(clockSlot(slot("clock"), h.machine))) as MonotonicClock };
  },
  teardown: ({ h }) => h.close(),
});

wallClockConformance({
  name: "clock.boundary-wall",
  async setup() {
    const h = machineHarness();
    return {
      h,
      clock: (await h.connect(wallClockSlot(slot("wallclock"), h.machine))) as WallClock,
    };
  },
  teardown: ({ h }) => h.close(),
});

timeConformance({
  name: "time.boundary",
  async setup() {
    const h = machineHarness();
    const time = (await h.connect(timeSlot(slot("time"), h.machine))) as Time;
    const clock = (await h.connect(clockSlot(slot("clock"), h.machine))) as MonotonicClock;
    return { h, time, clock, wait: <T>(p: Promise<T>) => p, slackNs: 2e6 };
  },
  teardown: ({ h }) => h.close(),
});

randomConformance({
  name: "random.boundary",
  async setup() {
    const h = machineHarness();
    const seed = "7".repeat(64);
    return {
      h,
      random: (await h.connect(randomSlot(slot("random", { seed }), h.machine))) as Random,
    };
  },
  teardown: ({ h }) => h.close(),
});

const macText = (mac: Uint8Array) => [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");

// `a` is the image's netif; the tender serves its slot from a port of a switch, where `b` is.
netifConformance({
  name: "netif.boundary",
  async setup() {
    const sw = new MemorySwitch();
    const uplink = sw.attach();
    const b = sw.attach();
    const h = machineHarness(
      [
        {
          kind: "net",
          name: "net",
          signature: "atoll.netif/1",
          mac: macText(uplink.mac),
          mtu: 1500,
        },
      ],
      { net: { net: uplink } },
    );
    const a = (await h.connect(netSlot(h.boot.slots[0]!, h.machine))) as Netif;
    return {
      a,
      b,
      h,
      wait: <T>(p: Promise<T>) => p,
      disconnect: (n: Netif) => {
        if (n === a) (a as unknown as { disconnect(): void }).disconnect();
        else (n as typeof b).disconnect();
      },
    };
  },
  teardown: ({ h }) => h.close(),
});

// The image's block device, served by the tender from a memory disk (the file driver runs
// the same suite in @atoll/block); read-write and read-only.
for (const readOnly of [false, true]) {
  blockConformance({
    name: `block.boundary${readOnly ? " (read-only)" : ""}`,
    async setup() {
      const disk = new MemoryDisk({ sectorSize: 512, sectorCount: 4096 });
      const open = async () => {
        const host: Block = new MemoryBlock(disk, { readOnly });
        const info = host.info();
        const h = machineHarness(
          [{ kind: "block", name: "disk", signature: "atoll.block/1", ...info }],
          { block: { disk: host } },
        );
        const block = (await h.connect(blockSlot(h.boot.slots[0]!, h.machine))) as Block;
        return { h, block };
      };
      let current = await open();
      const harnesses = [current.h];
      return {
        block: current.block,
        harnesses,
        disconnect: async () => {
          (current.block as unknown as { disconnect(): void }).disconnect();
        },
        reopen: async () => {
          (current.block as unknown as { disconnect(): void }).disconnect();
          current = await open();
          harnesses.push(current.h);
          return current.block;
        },
      };
    },
    teardown: ({ harnesses }) => {
      for (const h of harnesses) h.close();
    },
  });
}

// The image's kv stores, served by the tender from @atoll/kv's directory driver on a temporary
// directory (the driver the tender uses for --kv:SLOT=DIR).
const kvRoot = mkdtempSync(path.join(tmpdir(), "atoll-cli-kv-"));
afterAll(() => rmSync(kvRoot, { recursive: true, force: true }));
let kvDirs = 0;
const kvDir = () => {
  const dir = path.join(kvRoot, `d${kvDirs++}`);
  mkdirSync(dir);
  return dir;
};

async function boundaryKv(host: KvRo | KvRw, readWrite: boolean) {
  const signature = readWrite ? "atoll.kv.rw/1" : "atoll.kv.ro/1";
  const h = machineHarness([{ kind: "kv", name: "store", signature, readWrite }], {
    kv: { store: host },
  });
  const kv = await h.connect(kvSlot(h.boot.slots[0]!, h.machine));
  return { h, kv };
}

kvRwConformance({
  name: "kv.boundary",
  propertyRuns: 8,
  async setup() {
    const world = new VirtualTime({ epochMs: Date.UTC(2024, 5, 1) });
    const root = kvDir();
    const open = async () => {
      const host = await DirectoryKv.open(root, world.wallClock);
      const { h, kv } = await boundaryKv(host, true);
      return { h, host, kv: kv as KvRw };
    };
    let current = await open();
    const all = [current];
    return {
      get kv() {
        return current.kv;
      },
      now: () => world.wallClock.now(),
      async reopen() {
        await current.host.flush();
        current.host.close();
        current = await open();
        all.push(current);
        return current.kv;
      },
      all,
    };
  },
  teardown: ({ all }) => {
    for (const { h, host } of all) {
      h.close();
      host.close();
    }
  },
});

kvRoConformance({
  name: "kv.boundary-ro",
  async setup(fixture) {
    const root = kvDir();
    for (const [key, value] of fixture) {
      const file = path.join(root, ...key.split("/").slice(1));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, value);
    }
    const host = await DirectoryKv.open(root, undefined);
    const { h, kv } = await boundaryKv(readOnlyView(host), false);
    return { h, host, kv: kv as KvRo };
  },
  teardown: ({ h, host }) => {
    h.close();
    host.close();
  },
});
