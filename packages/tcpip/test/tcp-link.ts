// An in-memory TcpLower for testing TCP without IPv4: engines on one "link"
// exchange segments through the Time device, with optional loss, duplication,
// reordering, corruption, delay, a rate limit and a drop-tail queue, all driven
// by a seeded Random so that a run is reproducible.

import { VirtualTime } from "@atoll/clock";
import { parseIpv4, silentLogger } from "@atoll/core";
import { type Random, SeededRandom } from "@atoll/entropy";
import {
  createTcp,
  type TcpConfig,
  type TcpConnectOptions,
  type TcpFlow,
  type TcpInstance,
  type TcpListenOptions,
} from "../src/tcp/index.js";
import type { TcpLower, TcpUpper } from "../src/tcp/lower.js";
import { emitSegment, parseSegment, type TcpSegmentRepr } from "../src/tcp/wire.js";

export interface Impairments {
  /** Probability a segment is dropped. */
  loss?: number;
  /** Probability a segment is delivered twice. */
  duplicate?: number;
  /** Probability a segment is held back by `reorderDelayNs` (so later ones overtake it). */
  reorder?: number;
  reorderDelayNs?: number;
  /** Probability one random bit of a segment is flipped. */
  corrupt?: number;
  /** One-way delay and uniform jitter, ns. */
  delayNs?: number;
  jitterNs?: number;
  /** Bottleneck rate in bytes/s (0 = unlimited) and its queue length in segments. */
  rateBytesPerSecond?: number;
  queueLimit?: number;
  /** Deliveries are rounded up to this slot so segments arrive in batches (fewer instants). */
  slotNs?: number;
  /** Drop everything (a partition). */
  down?: boolean;
}

interface Packet {
  at: number;
  src: number;
  dst: number;
  /** The segment is buffer[offset, offset+length); the buffer goes back to `owner` after delivery. */
  buffer: Uint8Array;
  offset: number;
  length: number;
  owner: MemoryLower | undefined;
  /** Bottleneck direction it was queued in, or -1. */
  dir: number;
}

export interface LinkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  queueDrops: number;
  bytes: number;
}

/** A link between any number of endpoints, by IPv4 address. */
export class MemoryLink {
  readonly stats: LinkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    queueDrops: 0,
    bytes: 0,
  };
  readonly #endpoints = new Map<number, TcpUpper>();
  readonly #queue: Packet[] = [];
  #head = 0;
  #timer: { cancel(): void } | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  /** Per direction (src→dst) time the bottleneck is busy until. */
  readonly #busyUntil = new Map<number, number>();
  readonly #inQueue = new Map<number, number>();
  /** Observes every segment as sent (before impairments). */
  tap: ((src: number, dst: number, segment: Uint8Array) => void) | undefined;
  /** Drops a segment when it returns true (tests that target specific segments). */
  filter: ((src: number, dst: number, segment: Uint8Array) => boolean) | undefined;

  constructor(
    readonly world: VirtualTime,
    readonly random: Random,
    public impairments: Impairments = {},
  ) {}

  attach(address: number, upper: TcpUpper): void {
    this.#endpoints.set(address, upper);
  }

  has(address: number): boolean {
    return this.#endpoints.has(address);
  }

  /** Segments in flight. */
  get inFlight(): number {
    return this.#queue.length - this.#head;
  }

  /** Sends a copy of `segment` (for tests that inject hand-made segments). */
  inject(src: number, dst: number, segment: Uint8Array): void {
    this.transmit(src, dst, segment.slice(), 0, segment.length, undefined);
  }

  /** Takes ownership of `buffer` until delivery, then gives it back to `owner`. */
  transmit(
    src: number,
    dst: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    owner: MemoryLower | undefined,
  ): void {
    const imp = this.impairments;
    const r = this.random;
    this.stats.sent++;
    if (this.tap !== undefined || this.filter !== undefined) {
      const segment = buffer.subarray(offset, offset + length);
      this.tap?.(src, dst, segment);
      if (this.filter?.(src, dst, segment)) {
        this.stats.lost++;
        owner?.recycle(buffer);
        return;
      }
    }
    if (imp.down || (imp.loss && r.float() < imp.loss)) {
      this.stats.lost++;
      owner?.recycle(buffer);
      return;
    }
    const now = this.world.now();
    let at = now;
    const dir = src * 65536 + (dst & 0xffff);
    if (imp.rateBytesPerSecond) {
      const queued = this.#inQueue.get(dir) ?? 0;
      if (imp.queueLimit !== undefined && queued >= imp.queueLimit) {
        this.stats.queueDrops++;
        owner?.recycle(buffer);
        return;
      }
      const start = Math.max(now, this.#busyUntil.get(dir) ?? 0);
      const done = start + ((length + 40) * 1e9) / imp.rateBytesPerSecond;
      this.#busyUntil.set(dir, done);
      this.#inQueue.set(dir, queued + 1);
      at = done;
    }
    at += imp.delayNs ?? 0;
    if (imp.jitterNs) at += r.float() * imp.jitterNs;
    if (imp.reorder && r.float() < imp.reorder) {
      at += imp.reorderDelayNs ?? 5_000_000;
      this.stats.reordered++;
    }
    if (imp.duplicate && r.float() < imp.duplicate) {
      this.stats.duplicated++;
      const copy = buffer.slice(offset, offset + length);
      this.#enqueue({
        at: at + 1000,
        src,
        dst,
        buffer: copy,
        offset: 0,
        length,
        owner: undefined,
        dir: -1,
      });
    }
    if (imp.corrupt && r.float() < imp.corrupt) {
      const bit = r.int(length * 8);
      buffer[offset + (bit >> 3)]! ^= 1 << (bit & 7);
      this.stats.corrupted++;
    }
    this.#enqueue({ at, src, dst, buffer, offset, length, owner, dir });
  }

  #enqueue(p: Packet): void {
    const slot = this.impairments.slotNs;
    let at = p.at;
    if (slot) at = Math.ceil(at / slot) * slot;
    p.at = at = Math.round(at);
    // Keep the queue sorted by time (then by send order); appends are the common case.
    const q = this.#queue;
    let i = q.length;
    while (i > this.#head && q[i - 1]!.at > at) i--;
    if (i === q.length) q.push(p);
    else q.splice(i, 0, p);
    if (at < this.#armedAt) this.#arm();
  }

  #arm(): void {
    this.#timer?.cancel();
    const head = this.#queue[this.#head];
    if (head === undefined) {
      this.#armedAt = Number.POSITIVE_INFINITY;
      this.#timer = undefined;
      return;
    }
    this.#armedAt = head.at;
    this.#timer = this.world.timers.setTimer(Math.max(0, head.at - this.world.now()), () => {
      this.#timer = undefined;
      this.#armedAt = Number.POSITIVE_INFINITY;
      this.#deliverDue();
    });
  }

  #deliverDue(): void {
    const now = this.world.now();
    const q = this.#queue;
    // Deliver what is due; segments sent meanwhile for `now` are delivered in this pass too.
    while (this.#head < q.length && q[this.#head]!.at <= now) {
      const p = q[this.#head]!;
      q[this.#head++] = undefined as unknown as Packet;
      if (p.dir >= 0 && this.impairments.rateBytesPerSecond)
        this.#inQueue.set(p.dir, (this.#inQueue.get(p.dir) ?? 1) - 1);
      const upper = this.#endpoints.get(p.dst);
      if (upper !== undefined) {
        this.stats.delivered++;
        this.stats.bytes += p.length;
        upper.receive(p.src, p.dst, p.buffer, p.offset, p.length);
      }
      p.owner?.recycle(p.buffer);
    }
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      q.splice(0, this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}

/** A TcpLower for one address on a MemoryLink. */
export class MemoryLower implements TcpLower {
  readonly headroom = 34;
  /** Free segment buffers: slots carved from a few large ArrayBuffers (slabs). */
  readonly #free: Uint8Array[] = [];
  readonly #slot: { buffer: Uint8Array; offset: number } = {
    buffer: new Uint8Array(0),
    offset: 34,
  };
  #slotSize = 0;
  /** Addresses with no route (sourceFor returns undefined). */
  readonly unreachable = new Set<number>();

  constructor(
    readonly address: number,
    readonly link: MemoryLink,
    public mtu = 1500,
  ) {}

  sourceFor(dst: number): number | undefined {
    return this.unreachable.has(dst) ? undefined : this.address;
  }

  maxSegmentSize(_dst: number): number {
    return this.mtu - 20;
  }

  allocate(length: number): { buffer: Uint8Array; offset: number } {
    const need = this.headroom + length;
    let buffer = this.#free.pop();
    if (buffer === undefined || buffer.length < need) {
      if (need > this.#slotSize) {
        this.#slotSize = Math.max(2048, 1 << Math.ceil(Math.log2(need)));
        this.#free.length = 0;
      }
      const per = Math.max(1, Math.floor((1 << 20) / this.#slotSize));
      const slab = new ArrayBuffer(per * this.#slotSize);
      for (let k = 1; k < per; k++)
        this.#free.push(new Uint8Array(slab, k * this.#slotSize, this.#slotSize));
      buffer = new Uint8Array(slab, 0, this.#slotSize);
    }
    this.#slot.buffer = buffer;
    this.#slot.offset = this.headroom;
    return this.#slot;
  }

  send(src: number, dst: number, buffer: Uint8Array, offset: number, length: number): boolean {
    this.link.transmit(src, dst, buffer, offset, length, this);
    return true;
  }

  recycle(buffer: Uint8Array): void {
    if (buffer.length >= this.#slotSize) this.#free.push(buffer);
  }
}

export const A = parseIpv4("10.0.0.1")!;
export const B = parseIpv4("10.0.0.2")!;
export const C = parseIpv4("10.0.0.3")!;

export interface PairOptions {
  seed?: number | string;
  impairments?: Impairments;
  configA?: TcpConfig;
  configB?: TcpConfig;
  mtu?: number;
}

export interface Pair {
  world: VirtualTime;
  random: SeededRandom;
  link: MemoryLink;
  a: TcpInstance;
  b: TcpInstance;
  lowerA: MemoryLower;
  lowerB: MemoryLower;
  seed: number | string;
}

/** Two engines, A (10.0.0.1) and B (10.0.0.2), on one link under virtual time. */
export function createPair(options: PairOptions = {}): Pair {
  const seed = options.seed ?? 1;
  const world = new VirtualTime();
  const random = new SeededRandom(`link:${seed}`);
  const link = new MemoryLink(world, random, options.impairments);
  const lowerA = new MemoryLower(A, link, options.mtu);
  const lowerB = new MemoryLower(B, link, options.mtu);
  const a = createTcp({
    lower: lowerA,
    clock: world.clock,
    time: world.timers,
    random: new SeededRandom(`a:${seed}`),
    log: silentLogger,
    ...(options.configA === undefined ? {} : { options: options.configA }),
  });
  const b = createTcp({
    lower: lowerB,
    clock: world.clock,
    time: world.timers,
    random: new SeededRandom(`b:${seed}`),
    log: silentLogger,
    ...(options.configB === undefined ? {} : { options: options.configB }),
  });
  link.attach(A, a.upper);
  link.attach(B, b.upper);
  return { world, random, link, a, b, lowerA, lowerB, seed };
}

/** Runs `fn` with the seed printed when it fails. */
export async function withSeed<T>(seed: number | string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    console.error(`failing seed: ${seed}`);
    throw error;
  }
}

// ---- helpers for protocol tests -------------------------------------------------------------

export interface Captured {
  at: number;
  src: number;
  dst: number;
  seg: TcpSegmentRepr;
}

/** Records every segment sent on the link, parsed. */
export function capture(link: MemoryLink): Captured[] {
  const out: Captured[] = [];
  const previous = link.tap;
  link.tap = (src, dst, segment) => {
    previous?.(src, dst, segment);
    const seg = parseSegment(segment);
    if (seg !== undefined) out.push({ at: link.world.now(), src, dst, seg });
  };
  return out;
}

/** Connects A → B:port and returns both ends. */
export async function establish(
  pair: Pair,
  port = 80,
  options: TcpListenOptions = {},
  connectOptions: TcpConnectOptions = {},
): Promise<{ client: TcpFlow; server: TcpFlow }> {
  let server: TcpFlow | undefined;
  pair.b.tcp.listen(
    port,
    (flow) => {
      server = flow as TcpFlow;
    },
    options,
  );
  const client = (await pair.world.run(
    pair.a.tcp.connect("10.0.0.2", port, connectOptions),
  )) as TcpFlow;
  await pair.world.run(Promise.resolve());
  for (let i = 0; i < 100 && server === undefined; i++) await pair.world.advance(1_000_000);
  if (server === undefined) throw new Error("server side never appeared");
  return { client, server };
}

/** Injects a hand-made segment into `to` as if sent by `from`. */
export function inject(pair: Pair, from: number, to: number, repr: Partial<TcpSegmentRepr>): void {
  const full: TcpSegmentRepr = {
    srcPort: 1,
    dstPort: 1,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 65535,
    urgent: 0,
    payload: new Uint8Array(0),
    ...repr,
  };
  const bytes = emitSegment(full, from, to);
  (to === B ? pair.b : pair.a).upper.receive(from, to, bytes);
}

export const text = (s: string) => new TextEncoder().encode(s);
export const untext = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

/** Reads until end of stream and returns everything. */
export async function readAll(flow: TcpFlow): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const c = await flow.read();
    if (c === null) break;
    chunks.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Byte equality without vitest's slow deep comparison of large arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Advances virtual time in small steps until `promise` settles: for code that
 * also waits on the host's event loop (node:http, node:tls), where an instant
 * with no pending virtual timer is not a deadlock.
 */
export async function drive<T>(
  world: VirtualTime,
  promise: Promise<T>,
  stepNs = 1e6,
  maxSteps = 200_000,
): Promise<T> {
  let settled = false;
  const observed = promise.finally(() => {
    settled = true;
  });
  observed.catch(() => {});
  for (let i = 0; i < maxSteps && !settled; i++) await world.advance(stepNs);
  if (!settled) throw new Error(`drive: not settled after ${maxSteps} steps`);
  return observed;
}
