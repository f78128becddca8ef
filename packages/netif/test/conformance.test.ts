// Every Netif driver of this package runs the conformance suite: switch
// ports (directly and as drivers), impairments around switch ports (none, and
// delay, jitter and a rate limit under virtual time), and pcap recording.

import { systemMonotonicClock, systemTime, systemWallClock, VirtualTime } from "@atoll/clock";
import { type AnyDriver, silentLogger } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { netifConformance } from "../src/conformance.js";
import {
  ImpairedNetif,
  MemoryPcapSink,
  type MemoryPort,
  MemorySwitch,
  type Netif,
  PcapNetif,
} from "../src/index.js";

/** Connects a driver by hand, as a unikernel would. */
export async function connect<T>(d: AnyDriver, devices: Record<string, object> = {}): Promise<T> {
  return (await d.connect(
    devices,
    {},
    {
      name: "test",
      log: silentLogger,
      signal: new AbortController().signal,
    },
  )) as T;
}

netifConformance({
  name: "memory switch ports",
  setup: () => {
    const sw = new MemorySwitch();
    const a = sw.attach();
    const b = sw.attach();
    sw.attach(); // a third port: floods reach it too
    return { a, b, wait: (p) => p, disconnect: (n: Netif) => (n as MemoryPort).disconnect() };
  },
});

netifConformance({
  name: "memory switch port drivers (mtu 9000)",
  setup: async () => {
    const sw = new MemorySwitch({ mtu: 9000 });
    const da = sw.port();
    const db = sw.port({ mac: "02:00:00:00:00:0b" });
    const a = await connect<Netif>(da);
    const b = await connect<Netif>(db);
    const drivers = new Map<Netif, AnyDriver>([
      [a, da],
      [b, db],
    ]);
    return {
      a,
      b,
      drivers,
      wait: (p) => p,
      disconnect: (n: Netif) => drivers.get(n)!.disconnect!(n),
    };
  },
  teardown: async (h) => {
    for (const [n, d] of h.drivers) await d.disconnect!(n);
  },
});

netifConformance({
  name: "impairments (none) around switch ports",
  setup: async () => {
    const sw = new MemorySwitch();
    const devices = {
      clock: await connect(systemMonotonicClock()),
      time: await connect(systemTime()),
      random: new SeededRandom(1),
    } as never;
    const a = new ImpairedNetif(sw.attach(), devices);
    const b = new ImpairedNetif(sw.attach(), devices);
    return { a, b, wait: (p) => p, disconnect: (n: Netif) => (n as ImpairedNetif).disconnect() };
  },
});

netifConformance({
  name: "impairments (delay, jitter, rate limit; virtual time) around switch ports",
  setup: () => {
    const world = new VirtualTime();
    const sw = new MemorySwitch({ mtu: 9000 });
    const devices = { clock: world.clock, time: world.timers, random: new SeededRandom(2) };
    const options = {
      delayNs: 2e6,
      jitterNs: 1e6,
      tx: { rateBytesPerSecond: 12.5e6 },
      rx: { delayNs: 1e5 },
    };
    const a = new ImpairedNetif(sw.attach(), devices, options);
    const b = new ImpairedNetif(sw.attach(), devices, options);
    return {
      a,
      b,
      wait: <T>(p: Promise<T>) => world.run(p),
      settle: () => world.runUntilIdle(),
      disconnect: (n: Netif) => (n as ImpairedNetif).disconnect(),
    };
  },
});

netifConformance({
  name: "pcap around switch ports",
  setup: async () => {
    const sw = new MemorySwitch();
    const wall = await connect<never>(systemWallClock());
    const a = new PcapNetif(sw.attach(), wall, { sink: new MemoryPcapSink() });
    const b = new PcapNetif(sw.attach(), wall, { sink: new MemoryPcapSink() });
    return { a, b, wait: (p) => p, disconnect: (n: Netif) => (n as PcapNetif).disconnect() };
  },
  teardown: async ({ a, b }) => {
    await a.disconnect();
    await b.disconnect();
  },
});
