// A DHCP client (a direct stack started with ipv4: "dhcp") and a scripted
// server on one memory switch, under virtual time with a seeded Random, plus
// optional static peers. Every change the stack reports is recorded with its
// virtual time.

import { VirtualTime } from "@atoll/clock";
import { SeededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import type { DhcpOptions } from "../../src/dhcp/client.js";
import type { DhcpLease, Ipv4Config } from "../../src/signature.js";
import { createDirectStack, type DirectStack } from "../../src/stack.js";
import { ScriptedDhcpServer, type ScriptedServerOptions } from "./dhcp-server.js";

export interface Change {
  readonly at: number;
  readonly config: Ipv4Config;
  readonly lease: DhcpLease | undefined;
}

export interface DhcpWorld {
  readonly time: VirtualTime;
  readonly random: SeededRandom;
  readonly switch: MemorySwitch;
  readonly server: ScriptedDhcpServer;
  readonly client: DirectStack;
  readonly changes: Change[];
  /** A stack with a static address on the same switch. */
  peer(address: string): DirectStack;
  /** Another DHCP client stack. */
  addClient(options?: DhcpOptions, start?: boolean): DirectStack;
  run<T>(promise: Promise<T>, maxNs?: number): Promise<T>;
  close(): Promise<void>;
}

export interface DhcpWorldOptions {
  readonly server?: ScriptedServerOptions;
  readonly dhcp?: DhcpOptions;
  /** Start the client at once (default true). */
  readonly start?: boolean;
}

export function dhcpWorld(seed: number | string, options: DhcpWorldOptions = {}): DhcpWorld {
  const time = new VirtualTime();
  const random = new SeededRandom(seed);
  const sw = new MemorySwitch();
  const devices = { clock: time.clock, time: time.timers, random };
  const server = new ScriptedDhcpServer(sw.attach(), () => time.now(), options.server);
  const stacks: DirectStack[] = [];
  const changes: Change[] = [];
  const addClient = (dhcp: DhcpOptions = options.dhcp ?? {}, start = true) => {
    const stack = createDirectStack(
      { netif: sw.attach(), ...devices },
      start ? { ipv4: "dhcp", dhcp } : { dhcp },
    );
    stacks.push(stack);
    return stack;
  };
  const client = addClient(options.dhcp, options.start ?? true);
  client.ipv4.onChange((config, lease) => changes.push({ at: time.now(), config, lease }));
  return {
    time,
    random,
    switch: sw,
    server,
    client,
    changes,
    peer(address) {
      const stack = createDirectStack({ netif: sw.attach(), ...devices }, { ipv4: address });
      stacks.push(stack);
      return stack;
    },
    addClient,
    run: (promise, maxNs = 3600e9) => time.run(promise, { maxNs }),
    async close() {
      await Promise.all(stacks.map((s) => s.close()));
    },
  };
}
