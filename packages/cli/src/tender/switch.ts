// A named in-process Ethernet hub for `--net:SLOT=switch:NAME`: every image of
// this tender process attached to the same name shares one segment. Stands in
// for @atoll/netif's MemorySwitch until it lands on main (then the tender
// attaches MemorySwitch ports instead); the boundary does not change.

import { randomBytes } from "node:crypto";
import type { Netif, NetifStats } from "@atoll/netif";

class HubPort implements Netif {
  readonly mac: Uint8Array;
  readonly mtu = 1500;
  #listener: ((frame: Uint8Array) => void) | undefined;
  readonly stats: { -readonly [K in keyof NetifStats]: number } = {
    rxBytes: 0,
    rxPackets: 0,
    rxDropped: 0,
    rxErrors: 0,
    txBytes: 0,
    txPackets: 0,
    txDropped: 0,
    txErrors: 0,
  };

  constructor(private readonly hub: Hub) {
    this.mac = randomBytes(6);
    this.mac[0] = (this.mac[0]! & 0xfe) | 0x02; // unicast, locally administered
  }

  write(frame: Uint8Array): boolean {
    if (frame.length < 14 || frame.length > this.mtu + 14) {
      this.stats.txErrors++;
      return false;
    }
    this.stats.txPackets++;
    this.stats.txBytes += frame.length;
    const copy = frame.slice();
    queueMicrotask(() => this.hub.deliver(this, copy));
    return true;
  }

  listen(listener: (frame: Uint8Array) => void): void {
    this.#listener = listener;
  }

  receive(frame: Uint8Array): void {
    if (this.#listener === undefined) {
      this.stats.rxDropped++;
      return;
    }
    this.stats.rxPackets++;
    this.stats.rxBytes += frame.length;
    this.#listener(frame);
  }
}

class Hub {
  readonly ports = new Set<HubPort>();
  deliver(from: HubPort, frame: Uint8Array): void {
    for (const port of this.ports) if (port !== from) port.receive(frame);
  }
}

const hubs = new Map<string, Hub>();

/** A new port on the in-process segment `name`, and a function that leaves it. */
export function switchPort(name: string): { netif: Netif; close(): void } {
  let hub = hubs.get(name);
  if (hub === undefined) hubs.set(name, (hub = new Hub()));
  const port = new HubPort(hub);
  hub.ports.add(port);
  return {
    netif: port,
    close() {
      hub.ports.delete(port);
      if (hub.ports.size === 0) hubs.delete(name);
    },
  };
}
