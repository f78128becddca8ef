// Direct stacks on a TestHub under virtual time, with a seeded Random.

import { VirtualTime } from "@atoll/clock";
import { SeededRandom } from "@atoll/entropy";
import { createDirectStack, type DirectStack, type DirectStackOptions } from "../../src/stack.js";
import { type HubPort, TestHub } from "./link.js";

export interface World {
  readonly time: VirtualTime;
  readonly hub: TestHub;
  readonly stacks: DirectStack[];
  readonly ports: HubPort[];
  add(address: string, options?: DirectStackOptions & { mtu?: number }): DirectStack;
  run<T>(promise: Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function world(seed: number | string = 1, hubOptions: { delayNs?: number } = {}): World {
  const time = new VirtualTime();
  const hub = new TestHub({ ...hubOptions, time: time.timers });
  const random = new SeededRandom(seed);
  const stacks: DirectStack[] = [];
  const ports: HubPort[] = [];
  return {
    time,
    hub,
    stacks,
    ports,
    add(address, options = {}) {
      const port = hub.attach(options.mtu ?? 1500);
      const stack = createDirectStack(
        { netif: port, clock: time.clock, time: time.timers, random },
        { ipv4: address, ...options },
      );
      stacks.push(stack);
      ports.push(port);
      return stack;
    },
    run: (promise) => time.run(promise, { maxNs: 600e9 }),
    async close() {
      await Promise.all(stacks.map((s) => s.close()));
    },
  };
}
