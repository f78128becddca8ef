// A minimal in-test Ethernet hub: every frame written by one port is copied
// and delivered to every other port, asynchronously (a microtask, or a Time
// timer when a delay is set). Enough to test the stack before the memory
// switch is available, and to observe and inject frames.

import type { Time } from "@atoll/clock";
import type { FrameListener, Netif, NetifStats } from "@atoll/netif";

class Counters implements NetifStats {
  rxBytes = 0;
  rxPackets = 0;
  rxDropped = 0;
  rxErrors = 0;
  txBytes = 0;
  txPackets = 0;
  txDropped = 0;
  txErrors = 0;
}

export class HubPort implements Netif {
  readonly stats = new Counters();
  listener: FrameListener | undefined;
  constructor(
    readonly hub: TestHub,
    readonly mac: Uint8Array,
    readonly mtu: number,
  ) {}
  write(frame: Uint8Array): boolean {
    if (frame.length < 14 || frame.length > this.mtu + 14) {
      this.stats.txErrors++;
      return false;
    }
    this.stats.txPackets++;
    this.stats.txBytes += frame.length;
    this.hub.forward(this, frame.slice());
    return true;
  }
  listen(listener: FrameListener): void {
    this.listener = listener;
  }
  deliver(frame: Uint8Array): void {
    if (frame.length > this.mtu + 14) {
      this.stats.rxDropped++;
      return;
    }
    this.stats.rxPackets++;
    this.stats.rxBytes += frame.length;
    this.listener?.(frame);
  }
}

export interface TestHubOptions {
  /** One-way delay, ns (needs `time`). */
  readonly delayNs?: number;
  readonly time?: Time;
}

export class TestHub {
  readonly ports: HubPort[] = [];
  /** Every frame written, with the writing port (for assertions). */
  readonly log: Array<{ from: HubPort; frame: Uint8Array }> = [];
  recording = false;
  /** Return false to drop a frame in flight. */
  filter: ((from: HubPort, frame: Uint8Array) => boolean) | undefined;
  #next = 1;
  constructor(readonly options: TestHubOptions = {}) {}

  attach(mtu = 1500, mac?: Uint8Array): HubPort {
    const n = this.#next++;
    const port = new HubPort(this, mac ?? new Uint8Array([0x02, 0, 0, 0, n >> 8, n & 255]), mtu);
    this.ports.push(port);
    return port;
  }

  forward(from: HubPort, frame: Uint8Array): void {
    if (this.recording) this.log.push({ from, frame });
    if (this.filter !== undefined && !this.filter(from, frame)) return;
    for (const port of this.ports) {
      if (port !== from) this.#schedule(() => port.deliver(frame));
    }
  }

  /** Delivers `frame` to `port` as if it came off the wire. */
  inject(port: HubPort, frame: Uint8Array): void {
    this.#schedule(() => port.deliver(frame));
  }

  #schedule(task: () => void): void {
    const { delayNs, time } = this.options;
    if (delayNs !== undefined && time !== undefined) time.setTimer(delayNs, task);
    else queueMicrotask(task);
  }
}
