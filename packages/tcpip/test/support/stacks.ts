// Direct stacks on one link under virtual time, with a seeded Random. The
// link is the memory switch (with optional impairments and pcap recording
// per port), or the TestHub when a test needs to observe or inject frames.

import { VirtualTime } from "@atoll/clock";
import { SeededRandom } from "@atoll/entropy";
import {
  ImpairedNetif,
  type ImpairOptions,
  MemorySwitch,
  type Netif,
  PcapNetif,
  type PcapSink,
} from "@atoll/netif";
import { createDirectStack, type DirectStack, type DirectStackOptions } from "../../src/stack.js";
import { type HubPort, TestHub } from "./link.js";

export interface StackOptions extends DirectStackOptions {
  /** Link MTU of this stack's port. */
  readonly mtu?: number;
  /** Impairments on this stack's port (switch only). */
  readonly impair?: ImpairOptions;
  /** Records this stack's frames (switch only). */
  readonly pcap?: PcapSink;
}

export interface World {
  readonly time: VirtualTime;
  readonly random: SeededRandom;
  readonly hub: TestHub;
  readonly switch: MemorySwitch;
  readonly stacks: DirectStack[];
  /** Hub ports, by stack (hub worlds only). */
  readonly ports: HubPort[];
  /** The Netif each stack sees (after impairments and pcap). */
  readonly netifs: Netif[];
  add(address: string, options?: StackOptions): DirectStack;
  run<T>(promise: Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Use the TestHub (observable, injectable) instead of the memory switch. */
  readonly hub?: boolean;
  /** One-way delay on the hub, ns. */
  readonly delayNs?: number;
}

export function world(seed: number | string = 1, options: WorldOptions = {}): World {
  const time = new VirtualTime();
  const hub = new TestHub({
    ...(options.delayNs === undefined ? {} : { delayNs: options.delayNs }),
    time: time.timers,
  });
  const sw = new MemorySwitch({ queueLength: 4096, queueBytes: 32 << 20 });
  const random = new SeededRandom(seed);
  const stacks: DirectStack[] = [];
  const ports: HubPort[] = [];
  const netifs: Netif[] = [];
  const pcaps: PcapNetif[] = [];
  const devices = { clock: time.clock, time: time.timers, random };
  return {
    time,
    random,
    hub,
    switch: sw,
    stacks,
    ports,
    netifs,
    add(address, stackOptions = {}) {
      const { mtu, impair, pcap, ...rest } = stackOptions;
      let netif: Netif;
      if (options.hub) {
        const port = hub.attach(mtu ?? 1500);
        ports.push(port);
        netif = port;
      } else {
        netif = sw.attach(mtu === undefined ? {} : { mtu });
        if (impair !== undefined) netif = new ImpairedNetif(netif, devices, impair);
        if (pcap !== undefined) {
          const recorder = new PcapNetif(netif, time.wallClock, { sink: pcap });
          pcaps.push(recorder);
          netif = recorder;
        }
      }
      const stack = createDirectStack({ netif, ...devices }, { ipv4: address, ...rest });
      stacks.push(stack);
      netifs.push(netif);
      return stack;
    },
    run: (promise) => time.run(promise, { maxNs: 3600e9 }),
    async close() {
      await Promise.all(stacks.map((s) => s.close()));
      for (const p of pcaps) await p.writer.close();
    },
  };
}
