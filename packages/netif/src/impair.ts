// Impairments: a Netif that wraps any other Netif and makes its link worse on
// purpose — loss, duplication, corruption, reordering, delay and jitter, a
// rate limit, a smaller MTU, a partition — separately for what it sends (tx)
// and what it receives (rx), adjustable while it runs.
//
// Every random choice comes from the Random device and every instant from the
// MonotonicClock and Time devices, so under VirtualTime and a seeded Random a
// run is exactly reproducible. With nothing configured a frame passes straight
// through: no copy, no clock read, no random draw.

import { MonotonicClock, Time, type Timer } from "@atoll/clock";
import { driver } from "@atoll/core";
import { Random } from "@atoll/entropy";
import { checkInteger, checkNumber } from "./errors.js";
import { FramePool } from "./pool.js";
import { type FrameListener, Netif } from "./signature.js";
import { ETHERNET_HEADER, MAX_MTU, MIN_MTU, NetifCounters } from "./stats.js";

/** The impairments of one direction. Probabilities are fractions in [0, 1] (0.01 is 1 %). */
export interface LinkImpairments {
  /** Probability that a frame is lost. */
  readonly loss?: number;
  /** Probability that a frame is delivered twice. */
  readonly duplicate?: number;
  /** Probability that a frame has bits flipped. */
  readonly corrupt?: number;
  /** Distinct bits flipped in a corrupted frame, 1 to 64 (default 1). */
  readonly corruptBits?: number;
  /** First byte that corruption may touch (default 14: the Ethernet header stays intact). */
  readonly corruptFrom?: number;
  /** Probability that a frame is held back by `reorderDelayNs`, so later frames overtake it. */
  readonly reorder?: number;
  /** Extra delay of a reordered frame, in ns (default 1 ms). */
  readonly reorderDelayNs?: number;
  /** Fixed one-way delay, in ns. */
  readonly delayNs?: number;
  /** Uniform extra delay in [0, jitterNs). Order is kept: jitter alone never reorders. */
  readonly jitterNs?: number;
  /** Link rate in bytes per second; 0 is unlimited. */
  readonly rateBytesPerSecond?: number;
  /** Bytes the rate limiter queues before it drops; default 50 ms at the rate, at least 128 KiB. */
  readonly rateQueueBytes?: number;
  /** Frames in flight (delayed or queued) before new ones are dropped (default 10,000). */
  readonly limit?: number;
  /** Bytes in flight before new frames are dropped (default 64 MiB). */
  readonly limitBytes?: number;
  /** Drops everything while true. */
  readonly partitioned?: boolean;
}

export interface ImpairOptions extends LinkImpairments {
  /** Payload MTU of the impaired link (at most the wrapped one's): larger frames are refused on tx and dropped on rx. */
  readonly mtu?: number;
  /** Overrides for frames written through the wrapper. Top-level fields apply to both directions. */
  readonly tx?: LinkImpairments;
  /** Overrides for frames received from the wrapped Netif. */
  readonly rx?: LinkImpairments;
}

/** What one direction did to its frames. */
export class ImpairmentCounters {
  /** Frames that entered the direction. */
  frames = 0;
  /** Frames that left it (duplicates included). */
  delivered = 0;
  partitioned = 0;
  lost = 0;
  duplicated = 0;
  corrupted = 0;
  reordered = 0;
  /** Frames given the fixed delay or jitter. */
  delayed = 0;
  /** Frames that went through the rate limiter. */
  shaped = 0;
  /** Frames dropped because the rate limiter's queue was full. */
  rateDropped = 0;
  /** Frames dropped because `limit` or `limitBytes` was reached. */
  overflowDropped = 0;
  /** Frames larger than the impaired MTU. */
  mtuDropped = 0;
  /** Frames that left the impairments but that the wrapped Netif (tx) or the listener's absence (rx) refused. */
  refused = 0;
}

/** The normalized settings of one direction (hot-path reads: plain numbers). */
class LaneSettings {
  loss = 0;
  duplicate = 0;
  corrupt = 0;
  corruptBits = 1;
  corruptFrom = ETHERNET_HEADER;
  reorder = 0;
  reorderDelayNs = 1_000_000;
  delayNs = 0;
  jitterNs = 0;
  rate = 0;
  rateQueueBytes = 0;
  limit = 10_000;
  limitBytes = 64 * 1024 * 1024;
  partitioned = false;
  /** Nothing configured: frames pass straight through. Kept up to date by `refresh`. */
  clean = true;

  refresh(): void {
    this.clean =
      !this.partitioned &&
      this.loss === 0 &&
      this.duplicate === 0 &&
      this.corrupt === 0 &&
      this.timeless;
  }

  apply(o: LinkImpairments): void {
    if (o.loss !== undefined) this.loss = checkNumber("loss", o.loss, 0, 1);
    if (o.duplicate !== undefined) this.duplicate = checkNumber("duplicate", o.duplicate, 0, 1);
    if (o.corrupt !== undefined) this.corrupt = checkNumber("corrupt", o.corrupt, 0, 1);
    if (o.corruptBits !== undefined)
      this.corruptBits = checkInteger("corruptBits", o.corruptBits, 1, 64);
    if (o.corruptFrom !== undefined)
      this.corruptFrom = checkInteger("corruptFrom", o.corruptFrom, 0, MAX_MTU + ETHERNET_HEADER);
    if (o.reorder !== undefined) this.reorder = checkNumber("reorder", o.reorder, 0, 1);
    if (o.reorderDelayNs !== undefined)
      this.reorderDelayNs = checkNumber("reorderDelayNs", o.reorderDelayNs, 0, 2 ** 50);
    if (o.delayNs !== undefined) this.delayNs = checkNumber("delayNs", o.delayNs, 0, 2 ** 50);
    if (o.jitterNs !== undefined) this.jitterNs = checkNumber("jitterNs", o.jitterNs, 0, 2 ** 50);
    if (o.rateBytesPerSecond !== undefined)
      this.rate = checkNumber("rateBytesPerSecond", o.rateBytesPerSecond, 0, 2 ** 50);
    if (o.rateQueueBytes !== undefined)
      this.rateQueueBytes = checkInteger("rateQueueBytes", o.rateQueueBytes, 1, 2 ** 40);
    if (o.limit !== undefined) this.limit = checkInteger("limit", o.limit, 1, 1 << 24);
    if (o.limitBytes !== undefined)
      this.limitBytes = checkInteger("limitBytes", o.limitBytes, 1, 2 ** 40);
    if (o.partitioned !== undefined) this.partitioned = o.partitioned === true;
    this.refresh();
  }

  /** The rate limiter's queue bound in bytes. */
  rateQueue(): number {
    if (this.rateQueueBytes > 0) return this.rateQueueBytes;
    return Math.max(128 * 1024, Math.round(this.rate * 0.05));
  }

  /** True when a frame may pass without a clock read or a copy (probabilities aside). */
  get timeless(): boolean {
    return this.rate === 0 && this.delayNs === 0 && this.jitterNs === 0 && this.reorder === 0;
  }

  snapshot(): Required<Omit<LinkImpairments, "rateQueueBytes">> & { rateQueueBytes: number } {
    return {
      loss: this.loss,
      duplicate: this.duplicate,
      corrupt: this.corrupt,
      corruptBits: this.corruptBits,
      corruptFrom: this.corruptFrom,
      reorder: this.reorder,
      reorderDelayNs: this.reorderDelayNs,
      delayNs: this.delayNs,
      jitterNs: this.jitterNs,
      rateBytesPerSecond: this.rate,
      rateQueueBytes: this.rate > 0 ? this.rateQueue() : this.rateQueueBytes,
      limit: this.limit,
      limitBytes: this.limitBytes,
      partitioned: this.partitioned,
    };
  }
}

export type Direction = "tx" | "rx" | "both";

/**
 * The settings and counters of an impaired link, separate from the Netif so a
 * test can hold and adjust them before the link connects and while it runs.
 */
export class Impairments {
  /** @internal */ readonly _tx = new LaneSettings();
  /** @internal */ readonly _rx = new LaneSettings();
  #mtu: number | undefined;
  readonly stats = { tx: new ImpairmentCounters(), rx: new ImpairmentCounters() } as const;

  constructor(options: ImpairOptions = {}) {
    this.configure(options);
  }

  /**
   * Changes settings; fields left out keep their values. Top-level fields apply
   * to both directions, then `tx` and `rx` override them.
   */
  configure(options: ImpairOptions): void {
    // Validate everything before changing anything.
    const tx = new LaneSettings();
    const rx = new LaneSettings();
    for (const lane of [tx, rx]) lane.apply(options);
    if (options.tx) tx.apply(options.tx);
    if (options.rx) rx.apply(options.rx);
    if (options.mtu !== undefined) checkInteger("mtu", options.mtu, MIN_MTU, MAX_MTU);
    this._tx.apply(options);
    this._rx.apply(options);
    if (options.tx) this._tx.apply(options.tx);
    if (options.rx) this._rx.apply(options.rx);
    if (options.mtu !== undefined) this.#mtu = options.mtu;
  }

  /** Back to a perfect link (counters are kept). */
  reset(): void {
    Object.assign(this._tx, new LaneSettings());
    Object.assign(this._rx, new LaneSettings());
    this.#mtu = undefined;
  }

  /** Cuts the link (both directions by default), or heals it with `on = false`. */
  partition(on = true, direction: Direction = "both"): void {
    if (direction !== "rx") this._tx.partitioned = on;
    if (direction !== "tx") this._rx.partitioned = on;
    this._tx.refresh();
    this._rx.refresh();
  }

  /** The impaired MTU, or undefined when the wrapped Netif's applies. */
  get mtu(): number | undefined {
    return this.#mtu;
  }

  /** The current settings of one direction. */
  settings(direction: "tx" | "rx") {
    return (direction === "tx" ? this._tx : this._rx).snapshot();
  }
}

export interface ImpairDevices {
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
}

interface InFlight {
  at: number;
  seq: number;
  frame: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** One direction of an impaired link: the decisions, a delay line (a heap by departure time) and one timer. */
class Lane {
  readonly #settings: LaneSettings;
  readonly #counters: ImpairmentCounters;
  readonly #devices: ImpairDevices;
  readonly #emit: (frame: Uint8Array) => boolean;
  readonly #heap: InFlight[] = [];
  readonly #spare: InFlight[] = [];
  readonly #pool = new FramePool(1024);
  #bytes = 0;
  #seq = 0;
  #linkFreeAt = 0;
  #lastDeparture = 0;
  #timer: Timer | undefined;
  #timerAt = 0;
  #scratch = new Uint8Array(2048);
  readonly #flips = new Int32Array(64);
  readonly #fire = () => this.#release();

  constructor(
    settings: LaneSettings,
    counters: ImpairmentCounters,
    devices: ImpairDevices,
    emit: (frame: Uint8Array) => boolean,
  ) {
    this.#settings = settings;
    this.#counters = counters;
    this.#devices = devices;
    this.#emit = emit;
  }

  get inFlight(): number {
    return this.#heap.length;
  }

  /** Takes one frame; false when the lane refused it (a full queue). */
  process(frame: Uint8Array): boolean {
    const s = this.#settings;
    const c = this.#counters;
    c.frames++;
    if (s.clean && this.#heap.length === 0) {
      c.delivered++;
      if (this.#emit(frame)) return true;
      c.refused++;
      return false;
    }
    if (s.partitioned) {
      c.partitioned++;
      return true;
    }
    const random = this.#devices.random;
    if (s.loss > 0 && random.float() < s.loss) {
      c.lost++;
      return true;
    }
    const twice = s.duplicate > 0 && random.float() < s.duplicate;
    if (twice) c.duplicated++;
    const accepted = this.#one(frame);
    if (twice) this.#one(frame);
    return accepted;
  }

  #one(frame: Uint8Array): boolean {
    const s = this.#settings;
    const c = this.#counters;
    const corrupt = s.corrupt > 0 && this.#devices.random.float() < s.corrupt;
    if (s.timeless && this.#heap.length === 0) {
      c.delivered++;
      let out = frame;
      if (corrupt) {
        if (this.#scratch.length < frame.length) this.#scratch = new Uint8Array(frame.length);
        out = this.#scratch.subarray(0, frame.length);
        out.set(frame);
        this.#corrupt(out);
      }
      if (this.#emit(out)) return true;
      c.refused++;
      return false;
    }
    const length = frame.length;
    if (this.#heap.length >= s.limit || this.#bytes + length > s.limitBytes) {
      c.overflowDropped++;
      return false;
    }
    const now = this.#devices.clock.now();
    let at = now;
    if (s.rate > 0) {
      const start = Math.max(this.#linkFreeAt, now);
      if (((start - now) * s.rate) / 1e9 + length > s.rateQueue()) {
        c.rateDropped++;
        return false;
      }
      c.shaped++;
      this.#linkFreeAt = start + (length * 1e9) / s.rate;
      at = this.#linkFreeAt;
    }
    if (s.delayNs > 0 || s.jitterNs > 0) {
      c.delayed++;
      at += s.delayNs;
      if (s.jitterNs > 0) at += this.#devices.random.float() * s.jitterNs;
    }
    if (s.reorder > 0 && this.#devices.random.float() < s.reorder) {
      // Held back: later frames overtake it. It does not move the in-order horizon.
      c.reordered++;
      at += s.reorderDelayNs;
    } else {
      if (at < this.#lastDeparture) at = this.#lastDeparture;
      this.#lastDeparture = at;
    }
    const copy = this.#pool.copy(frame);
    if (corrupt) this.#corrupt(copy);
    this.#push(at, copy);
    this.#arm(now);
    return true;
  }

  #corrupt(frame: Uint8Array): void {
    const s = this.#settings;
    const span = (frame.length - s.corruptFrom) * 8;
    if (span <= 0) return;
    const bits = Math.min(s.corruptBits, span);
    const flips = this.#flips;
    const random = this.#devices.random;
    for (let i = 0; i < bits; i++) {
      let bit: number;
      let fresh: boolean;
      do {
        bit = random.int(span);
        fresh = true;
        for (let j = 0; j < i; j++) if (flips[j] === bit) fresh = false;
      } while (!fresh);
      flips[i] = bit;
      frame[s.corruptFrom + (bit >> 3)]! ^= 1 << (bit & 7);
    }
    this.#counters.corrupted++;
  }

  #arm(now: number): void {
    const top = this.#heap[0];
    if (top === undefined) return;
    if (this.#timer?.pending === true) {
      if (this.#timerAt <= top.at) return;
      this.#timer.cancel();
    }
    this.#timerAt = top.at;
    const wait = Math.ceil(top.at - now);
    this.#timer = this.#devices.time.setTimer(Math.max(wait, 0), this.#fire);
  }

  #release(): void {
    this.#timer = undefined;
    const now = this.#devices.clock.now();
    const heap = this.#heap;
    try {
      while (heap.length > 0 && heap[0]!.at <= now) {
        const entry = this.#pop();
        const frame = entry.frame;
        entry.frame = EMPTY;
        this.#spare.push(entry);
        this.#bytes -= frame.length;
        this.#counters.delivered++;
        try {
          if (!this.#emit(frame)) this.#counters.refused++;
        } finally {
          this.#pool.release(frame);
        }
      }
    } finally {
      this.#arm(now);
    }
  }

  /** Drops everything in flight and stops the timer (on disconnect). */
  clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const entry of this.#heap) entry.frame = EMPTY;
    this.#heap.length = 0;
    this.#spare.length = 0;
    this.#bytes = 0;
    this.#pool.clear();
  }

  #push(at: number, frame: Uint8Array): void {
    const entry = this.#spare.pop() ?? { at: 0, seq: 0, frame: EMPTY };
    entry.at = at;
    entry.seq = this.#seq++;
    entry.frame = frame;
    this.#bytes += frame.length;
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.at < at || (p.at === at && p.seq < entry.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): InFlight {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && earlier(heap[r]!, heap[l]!) ? r : l;
      if (!earlier(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

const earlier = (a: InFlight, b: InFlight) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * A Netif that impairs the link of the Netif it wraps. It takes over the
 * wrapped Netif's listener. Its stats count what its user wrote and received;
 * what the impairments did is in `impairments.stats`.
 */
export class ImpairedNetif implements Netif {
  readonly impairments: Impairments;
  readonly stats = new NetifCounters();
  readonly #inner: Netif;
  #listener: FrameListener | undefined;
  #connected = true;
  readonly #tx: Lane;
  readonly #rx: Lane;

  constructor(inner: Netif, devices: ImpairDevices, impairments: Impairments | ImpairOptions = {}) {
    this.#inner = inner;
    this.impairments =
      impairments instanceof Impairments ? impairments : new Impairments(impairments);
    const { _tx, _rx, stats } = this.impairments;
    this.#tx = new Lane(_tx, stats.tx, devices, (frame) => this.#send(frame));
    this.#rx = new Lane(_rx, stats.rx, devices, (frame) => this.#deliver(frame));
    inner.listen((frame) => this.#receive(frame));
  }

  get mac(): Uint8Array {
    return this.#inner.mac;
  }

  get mtu(): number {
    const limit = this.impairments.mtu;
    const inner = this.#inner.mtu;
    return limit !== undefined && limit < inner ? limit : inner;
  }

  /** The wrapped Netif. */
  get inner(): Netif {
    return this.#inner;
  }

  /** Frames delayed or queued, per direction. */
  get inFlight(): { tx: number; rx: number } {
    return { tx: this.#tx.inFlight, rx: this.#rx.inFlight };
  }

  write(frame: Uint8Array): boolean {
    const stats = this.stats;
    const length = frame.length;
    if (length < ETHERNET_HEADER || length > this.mtu + ETHERNET_HEADER) {
      if (length > this.mtu + ETHERNET_HEADER && length <= this.#inner.mtu + ETHERNET_HEADER)
        this.impairments.stats.tx.mtuDropped++;
      stats.txErrors++;
      return false;
    }
    if (!this.#connected) {
      stats.txDropped++;
      return false;
    }
    if (!this.#tx.process(frame)) {
      stats.txDropped++;
      return false;
    }
    stats.txPackets++;
    stats.txBytes += length;
    return true;
  }

  listen(listener: FrameListener): void {
    this.#listener = listener;
  }

  /** Stops the link: writes are refused, frames in flight are dropped, the wrapped Netif is released. Idempotent. */
  disconnect(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#tx.clear();
    this.#rx.clear();
    this.#inner.listen(ignore);
  }

  #send(frame: Uint8Array): boolean {
    return this.#inner.write(frame);
  }

  #receive(frame: Uint8Array): void {
    if (!this.#connected) return;
    if (frame.length > this.mtu + ETHERNET_HEADER) {
      this.impairments.stats.rx.mtuDropped++;
      this.stats.rxDropped++;
      return;
    }
    this.#rx.process(frame);
  }

  #deliver(frame: Uint8Array): boolean {
    const listener = this.#listener;
    if (listener === undefined) {
      this.stats.rxDropped++;
      return false;
    }
    this.stats.rxPackets++;
    this.stats.rxBytes += frame.length;
    listener(frame);
    return true;
  }
}

const ignore: FrameListener = () => {};

type ImpairNeeds<W extends string> = { readonly [K in W]: typeof Netif } & {
  readonly clock: typeof MonotonicClock;
  readonly time: typeof Time;
  readonly random: typeof Random;
};

/**
 * A driver that wraps another Netif in impairments. It needs the Netif to wrap
 * (the binding named by `wraps`, default "netif" — any other binding providing
 * Netif when there is only one), a MonotonicClock, Time and Random. The
 * settings are reachable before and after connect as `.impairments`.
 */
export function impair<const W extends string = "netif">(
  options: ImpairOptions & { readonly wraps?: W } = {},
) {
  const impairments = new Impairments(options);
  const wraps = (options.wraps ?? "netif") as W;
  const needs = {
    [wraps]: Netif,
    clock: MonotonicClock,
    time: Time,
    random: Random,
  } as ImpairNeeds<W>;
  const d = driver({
    name: "netif.impair",
    provides: Netif,
    needs,
    connect: (devices) => {
      const all = devices as unknown as Record<string, unknown> & ImpairDevices;
      return new ImpairedNetif(all[wraps] as Netif, all, impairments);
    },
    disconnect: (device) => (device as ImpairedNetif).disconnect(),
  });
  return Object.assign(d, { impairments });
}
