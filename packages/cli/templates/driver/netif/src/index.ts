// __NAME__: a driver providing Netif (@atoll/netif). It starts as a shared
// medium in memory — every frame written on one port reaches every other —
// to be replaced by your link (a socket, a device, a tunnel). Its tests run
// the Netif conformance suite, the same one every in-tree driver passes.

import { driver } from "@atoll/core";
import { ETHERNET_HEADER, type FrameListener, Netif, NetifCounters } from "@atoll/netif";

/** The medium the ports share: replace it with your link. */
export class __Name__Medium {
  readonly #ports = new Set<__Name__Netif>();

  /** A new port with the given MAC address (six bytes). */
  attach(mac: Uint8Array, mtu = 1500): __Name__Netif {
    const port = new __Name__Netif(this, mac, mtu);
    this.#ports.add(port);
    return port;
  }

  /** @internal Carries a copy of the frame to every other port, never synchronously. */
  _send(from: __Name__Netif, frame: Uint8Array): void {
    const copy = frame.slice();
    queueMicrotask(() => {
      for (const port of this.#ports) if (port !== from) port._receive(copy);
    });
  }

  /** @internal */
  _detach(port: __Name__Netif): void {
    this.#ports.delete(port);
  }
}

export class __Name__Netif implements Netif {
  readonly stats = new NetifCounters();
  #listener: FrameListener | undefined;
  #open = true;

  constructor(
    readonly medium: __Name__Medium,
    readonly mac: Uint8Array,
    readonly mtu: number,
  ) {}

  write(frame: Uint8Array): boolean {
    const stats = this.stats;
    if (frame.length < ETHERNET_HEADER || frame.length > this.mtu + ETHERNET_HEADER) {
      stats.txErrors++;
      return false;
    }
    if (!this.#open) {
      stats.txDropped++;
      return false;
    }
    stats.txPackets++;
    stats.txBytes += frame.length;
    this.medium._send(this, frame);
    return true;
  }

  listen(listener: FrameListener): void {
    this.#listener = listener;
  }

  /** @internal A frame from the medium: valid only during the listener's call. */
  _receive(frame: Uint8Array): void {
    const stats = this.stats;
    if (!this.#open) return;
    if (frame.length > this.mtu + ETHERNET_HEADER || this.#listener === undefined) {
      stats.rxDropped++;
      return;
    }
    stats.rxPackets++;
    stats.rxBytes += frame.length;
    this.#listener(frame);
  }

  /** Leaves the medium: writes are refused and nothing is delivered. Idempotent. */
  close(): void {
    this.#open = false;
    this.#listener = undefined;
    this.medium._detach(this);
  }
}

export interface __Name__Options {
  readonly medium: __Name__Medium;
  /** The port's MAC address (six bytes). */
  readonly mac: Uint8Array;
  readonly mtu?: number;
}

export const __camel__ = (options: __Name__Options) =>
  driver({
    name: "netif.__NAME__",
    provides: Netif,
    connect: () => options.medium.attach(options.mac, options.mtu),
    disconnect: (netif) => (netif as __Name__Netif).close(),
  });
