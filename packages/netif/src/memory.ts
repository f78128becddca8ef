// The memory switch: a learning bridge in one process. Any number of ports
// (each a Netif) plug into it; frames are copied into pooled buffers, queued
// per egress port (bounded) and delivered in batches, one microtask per port
// per batch, so delivery is never synchronous with the write that caused it.
//
// Forwarding (IEEE 802.1D in miniature): the source MAC of every frame is
// learned for its ingress port; a frame to a known unicast MAC goes to that
// one port; broadcast, multicast and unknown unicast are flooded to every port
// but the ingress one; a frame whose destination sits behind its own ingress
// port is filtered. No frame is ever sent back out the port it came in on.

import { driver } from "@atoll/core";
import { checkInteger, InvalidNetifOptionError } from "./errors.js";
import { formatMac, MAC_LENGTH, toUnicastMac } from "./mac.js";
import { FramePool } from "./pool.js";
import { type FrameListener, Netif } from "./signature.js";
import { ETHERNET_HEADER, MAX_MTU, MIN_MTU, NetifCounters } from "./stats.js";

export interface MemoryPortOptions {
  /** The port's MAC (bytes or `aa:bb:cc:dd:ee:ff`); default `02:a7:<switch id>:<port index>`. */
  readonly mac?: Uint8Array | string;
  /** Payload MTU, 68 to 65535; default the switch's (1500). */
  readonly mtu?: number;
  /** Frames the port's receive queue holds before it drops (default the switch's, 1024). */
  readonly queueLength?: number;
  /** Bytes the port's receive queue holds before it drops (default the switch's, 8 MiB). */
  readonly queueBytes?: number;
}

export interface MemorySwitchOptions {
  /** Distinguishes switches in default MACs, 0 to 65535; default 1, 2, 3, ... in creation order. */
  readonly id?: number;
  /** Default payload MTU of the ports (1500). */
  readonly mtu?: number;
  /** Default receive queue bound of the ports, in frames (1024). */
  readonly queueLength?: number;
  /** Default receive queue bound of the ports, in bytes (8 MiB). */
  readonly queueBytes?: number;
  /** MAC table size; the oldest entry is evicted when a new address arrives (default 4096). */
  readonly maxMacs?: number;
}

/** Switch-wide counters. Per-port counters are each port's `stats`. */
export class SwitchCounters {
  /** Unicast frames sent to the one port behind their destination. */
  forwarded = 0;
  /** Frames sent to every other port (broadcast, multicast, unknown unicast). */
  flooded = 0;
  /** Frames dropped because their destination is behind their own ingress port. */
  filtered = 0;
  /** Frames not queued at an egress port (queue full, or too large for that port's MTU). */
  dropped = 0;
  /** Addresses learned, moved between ports and evicted from the full table. */
  learned = 0;
  moved = 0;
  evicted = 0;
}

const DEFAULT_MTU = 1500;
const DEFAULT_QUEUE_LENGTH = 1024;
const DEFAULT_QUEUE_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_MACS = 4096;
const TWO_32 = 0x1_0000_0000;
const EMPTY = new Uint8Array(0);

let nextSwitchId = 1;

/**
 * One port of a MemorySwitch: a Netif. Usable directly (`sw.attach()`), or as a
 * driver (`sw.port()`). Frames handed to the listener live in the port's pooled
 * buffers and are valid only during the call.
 */
export class MemoryPort implements Netif {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly stats = new NetifCounters();
  /** The port number on its switch, from 1. */
  readonly index: number;

  /** @internal The switch while attached. */
  _switch: MemorySwitch | undefined;
  readonly #home: MemorySwitch;
  #listener: FrameListener | undefined = undefined;

  // Receive queue: a ring of pooled frame copies.
  readonly #ring: Uint8Array[];
  readonly #capacity: number;
  readonly #maxBytes: number;
  #head = 0;
  #count = 0;
  #bytes = 0;
  #epoch = 0;
  readonly #pool: FramePool;
  #scheduled = false;
  readonly #flushTask = () => this.#flush();

  // Forwarding caches (the last source learned and the last destination looked up),
  // valid while the switch's table version is unchanged.
  /** @internal */ _srcHi = -1;
  /** @internal */ _srcLo = 0;
  /** @internal */ _srcVersion = -1;
  /** @internal */ _dstHi = -1;
  /** @internal */ _dstLo = 0;
  /** @internal */ _dstVersion = -1;
  /** @internal */ _dstPort: MemoryPort | undefined = undefined;

  /** @internal Use `MemorySwitch.attach` or `MemorySwitch.port`. */
  constructor(
    home: MemorySwitch,
    index: number,
    mac: Uint8Array,
    mtu: number,
    queueLength: number,
    queueBytes: number,
  ) {
    this.#home = home;
    this.index = index;
    this.mac = mac;
    this.mtu = mtu;
    this.#capacity = queueLength;
    this.#maxBytes = queueBytes;
    this.#ring = new Array<Uint8Array>(queueLength).fill(EMPTY);
    this.#pool = new FramePool(queueLength);
  }

  /** The switch this port belongs to. */
  get switch(): MemorySwitch {
    return this.#home;
  }

  /** True until `disconnect()`. */
  get attached(): boolean {
    return this._switch !== undefined;
  }

  /** Frames waiting in the receive queue. */
  get queued(): number {
    return this.#count;
  }

  write(frame: Uint8Array): boolean {
    const length = frame.length;
    const stats = this.stats;
    if (length < ETHERNET_HEADER || length > this.mtu + ETHERNET_HEADER) {
      stats.txErrors++;
      return false;
    }
    const sw = this._switch;
    if (sw === undefined) {
      stats.txDropped++;
      return false;
    }
    stats.txPackets++;
    stats.txBytes += length;
    return sw._forward(this, frame);
  }

  listen(listener: FrameListener): void {
    this.#listener = listener;
  }

  /** Detaches the port from its switch: writes are refused, queued frames are dropped. Idempotent. */
  disconnect(): void {
    this._switch?._detach(this);
  }

  /** @internal Queues a copy of `frame` for delivery; false (counted) when it cannot. */
  _enqueue(frame: Uint8Array): boolean {
    const length = frame.length;
    if (
      length > this.mtu + ETHERNET_HEADER ||
      this.#count === this.#capacity ||
      this.#bytes + length > this.#maxBytes
    ) {
      this.stats.rxDropped++;
      return false;
    }
    const copy = this.#pool.copy(frame);
    let tail = this.#head + this.#count;
    if (tail >= this.#capacity) tail -= this.#capacity;
    this.#ring[tail] = copy;
    this.#count++;
    this.#bytes += length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
    return true;
  }

  /** @internal Drops everything queued (on detach). */
  _clear(): void {
    this.#epoch++;
    this.#ring.fill(EMPTY);
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
    this.#pool.clear();
    this._srcVersion = -1;
    this._dstVersion = -1;
    this._dstPort = undefined;
  }

  // Delivers the frames queued before this batch began; frames queued while it
  // runs (by listeners writing) wait for the next microtask, behind whatever
  // promise continuations those listeners scheduled.
  #flush(): void {
    this.#scheduled = false;
    const epoch = this.#epoch;
    const capacity = this.#capacity;
    const ring = this.#ring;
    const stats = this.stats;
    let batch = this.#count;
    let failed = false;
    let failure: unknown;
    while (batch-- > 0) {
      const head = this.#head;
      const frame = ring[head]!;
      const listener = this.#listener;
      if (listener === undefined) {
        stats.rxDropped++;
      } else {
        stats.rxPackets++;
        stats.rxBytes += frame.length;
        // The slot stays occupied during the call, so a frame queued by the listener cannot overwrite it.
        try {
          listener(frame);
        } catch (error) {
          if (!failed) {
            failed = true;
            failure = error;
          }
        }
        if (this.#epoch !== epoch) break;
      }
      ring[head] = EMPTY;
      this.#head = head + 1 === capacity ? 0 : head + 1;
      this.#count--;
      this.#bytes -= frame.length;
      this.#pool.release(frame);
    }
    if (this.#count > 0 && !this.#scheduled && this._switch !== undefined) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
    // A listener's bug surfaces, but only after the queue is consistent and the batch delivered.
    if (failed) throw failure;
  }

  /** @internal Re-attaches a detached port (a driver connected again). */
  _reattach(): void {
    if (this._switch === undefined) this.#home._attachPort(this);
  }

  toString(): string {
    return `MemoryPort(${this.index}, ${formatMac(this.mac)})`;
  }
}

/** A learning Ethernet bridge in one process. */
export class MemorySwitch {
  readonly id: number;
  readonly stats = new SwitchCounters();
  readonly #ports: MemoryPort[] = [];
  readonly #table = new Map<number, MemoryPort>();
  #version = 0;
  #nextIndex = 1;
  readonly #mtu: number;
  readonly #queueLength: number;
  readonly #queueBytes: number | undefined;
  readonly #maxMacs: number;

  constructor(options: MemorySwitchOptions = {}) {
    this.id = checkInteger("id", options.id ?? nextSwitchId++ % 65536, 0, 65535);
    this.#mtu = checkInteger("mtu", options.mtu ?? DEFAULT_MTU, MIN_MTU, MAX_MTU);
    this.#queueLength = checkInteger(
      "queueLength",
      options.queueLength ?? DEFAULT_QUEUE_LENGTH,
      1,
      1 << 24,
    );
    this.#queueBytes = options.queueBytes;
    this.#maxMacs = checkInteger("maxMacs", options.maxMacs ?? DEFAULT_MAX_MACS, 1, 1 << 24);
  }

  /** Creates a port, attached at once, and returns it as a Netif. */
  attach(options: MemoryPortOptions = {}): MemoryPort {
    const index = this.#nextIndex;
    let mac: Uint8Array;
    if (options.mac !== undefined) {
      mac = toUnicastMac(options.mac);
    } else {
      if (index > 65535) {
        throw new InvalidNetifOptionError(
          "mac",
          "a switch derives MACs for 65535 ports; give further ports a mac",
        );
      }
      mac = new Uint8Array([0x02, 0xa7, this.id >> 8, this.id & 0xff, index >> 8, index & 0xff]);
    }
    const mtu = checkInteger("mtu", options.mtu ?? this.#mtu, MIN_MTU, MAX_MTU);
    const queueLength = checkInteger(
      "queueLength",
      options.queueLength ?? this.#queueLength,
      1,
      1 << 24,
    );
    const maxFrame = mtu + ETHERNET_HEADER;
    const queueBytes = checkInteger(
      "queueBytes",
      options.queueBytes ?? this.#queueBytes ?? Math.max(DEFAULT_QUEUE_BYTES, maxFrame),
      maxFrame,
      2 ** 40,
    );
    this.#nextIndex++;
    const port = new MemoryPort(this, index, mac, mtu, queueLength, queueBytes);
    this._attachPort(port);
    return port;
  }

  /**
   * Creates a port and returns a driver providing it as a Netif. The port is
   * attached at once and reachable as `.netif`, so a test can use it without a
   * unikernel; disconnecting the driver detaches it.
   */
  port(options: MemoryPortOptions = {}) {
    const port = this.attach(options);
    const d = driver({
      name: "netif.memory",
      provides: Netif,
      connect: () => {
        port._reattach();
        return port;
      },
      disconnect: () => port.disconnect(),
    });
    return Object.assign(d, { netif: port });
  }

  /** The attached ports, in attach order. */
  get ports(): readonly MemoryPort[] {
    return this.#ports;
  }

  /** The learned addresses: MAC → port index. */
  macTable(): Map<string, number> {
    const out = new Map<string, number>();
    const mac = new Uint8Array(MAC_LENGTH);
    for (const [key, port] of this.#table) {
      const hi = Math.floor(key / TWO_32);
      const lo = key % TWO_32;
      mac[0] = hi >> 8;
      mac[1] = hi & 0xff;
      mac[2] = lo >>> 24;
      mac[3] = (lo >>> 16) & 0xff;
      mac[4] = (lo >>> 8) & 0xff;
      mac[5] = lo & 0xff;
      out.set(formatMac(mac), port.index);
    }
    return out;
  }

  /** Forgets every learned address. */
  flushMacTable(): void {
    this.#table.clear();
    this.#version++;
  }

  /** @internal */
  _attachPort(port: MemoryPort): void {
    port._switch = this;
    this.#ports.push(port);
  }

  /** @internal */
  _detach(port: MemoryPort): void {
    const at = this.#ports.indexOf(port);
    if (at < 0) return;
    this.#ports.splice(at, 1);
    for (const [key, owner] of this.#table) if (owner === port) this.#table.delete(key);
    this.#version++;
    port._switch = undefined;
    port._clear();
  }

  /** @internal The forwarding decision for one frame written on `ingress` (length already checked). */
  _forward(ingress: MemoryPort, f: Uint8Array): boolean {
    // Learn the source, unless it is a group address (never a valid source) or already known here.
    const srcHi = (f[6]! << 8) | f[7]!;
    const srcLo = (f[8]! << 24) | (f[9]! << 16) | (f[10]! << 8) | f[11]!;
    if (
      (srcHi & 0x100) === 0 &&
      (srcLo !== ingress._srcLo ||
        srcHi !== ingress._srcHi ||
        ingress._srcVersion !== this.#version)
    ) {
      this.#learn(ingress, srcHi, srcLo);
    }
    if ((f[0]! & 1) === 1) return this.#flood(ingress, f);
    const dstHi = (f[0]! << 8) | f[1]!;
    const dstLo = (f[2]! << 24) | (f[3]! << 16) | (f[4]! << 8) | f[5]!;
    let egress: MemoryPort | undefined;
    if (
      dstLo === ingress._dstLo &&
      dstHi === ingress._dstHi &&
      ingress._dstVersion === this.#version
    ) {
      egress = ingress._dstPort;
    } else {
      egress = this.#table.get(dstHi * TWO_32 + (dstLo >>> 0));
      ingress._dstHi = dstHi;
      ingress._dstLo = dstLo;
      ingress._dstPort = egress;
      ingress._dstVersion = this.#version;
    }
    if (egress === undefined) return this.#flood(ingress, f);
    if (egress === ingress) {
      this.stats.filtered++;
      return true;
    }
    this.stats.forwarded++;
    if (egress._enqueue(f)) return true;
    this.stats.dropped++;
    return false;
  }

  #learn(ingress: MemoryPort, hi: number, lo: number): void {
    const key = hi * TWO_32 + (lo >>> 0);
    const table = this.#table;
    const current = table.get(key);
    if (current !== ingress) {
      if (current === undefined) {
        if (table.size >= this.#maxMacs) {
          // Evict the oldest entry: Map iterates in insertion order.
          const oldest = table.keys().next();
          if (oldest.done !== true) table.delete(oldest.value);
          this.stats.evicted++;
        }
        this.stats.learned++;
      } else {
        table.delete(key);
        this.stats.moved++;
      }
      table.set(key, ingress);
      this.#version++;
    }
    ingress._srcHi = hi;
    ingress._srcLo = lo;
    ingress._srcVersion = this.#version;
  }

  #flood(ingress: MemoryPort, frame: Uint8Array): boolean {
    this.stats.flooded++;
    const ports = this.#ports;
    let others = 0;
    let queued = 0;
    for (let i = 0; i < ports.length; i++) {
      const port = ports[i]!;
      if (port === ingress) continue;
      others++;
      if (port._enqueue(frame)) queued++;
      else this.stats.dropped++;
    }
    // Onto an empty segment is still a successful send; refused only when every copy was dropped.
    return others === 0 || queued > 0;
  }
}
