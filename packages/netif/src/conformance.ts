// The Netif conformance suite, for any Netif driver, in this repository or
// published elsewhere:
//
//   netifConformance({
//     name: "memory switch",
//     setup: () => { const sw = new MemorySwitch(); const a = sw.attach(), b = sw.attach();
//                    return { a, b, wait: (p) => p, disconnect: (n) => (n as MemoryPort).disconnect() } },
//   });
//
// `a` and `b` sit on one layer-2 segment. A real segment (two TAP devices on
// a Linux bridge) also carries the kernel's own frames, so the suite sends
// its frames with the local experimental EtherType 0x88B5 (IEEE 802), tags
// them with a per-run value, and ignores everything else.

import { describe, expect, it } from "vitest";
import type { Netif, NetifStats } from "./signature.js";

export interface NetifHarness {
  /** Two interfaces on one segment, with distinct MACs. */
  readonly a: Netif;
  readonly b: Netif;
  /** Lets time pass until `promise` settles: identity for real time, `world.run` for virtual time. */
  wait<T>(promise: Promise<T>): Promise<T>;
  /** Disconnects one of them as its driver does on stop (the driver's `disconnect`). */
  disconnect(netif: Netif): void | Promise<void>;
  /**
   * Lets every frame in flight arrive, to check that something did *not*
   * arrive. Default: 50 ms of real time; under virtual time, `world.runUntilIdle()`.
   */
  settle?(): Promise<void>;
  /** How long to wait for expected frames, in ns of real time (default 5 s). */
  readonly timeoutNs?: number;
}

export interface NetifConformanceOptions<H extends NetifHarness> {
  readonly name?: string;
  setup(): H | Promise<H>;
  /** Must tolerate netifs the suite already disconnected. */
  teardown?(harness: H): void | Promise<void>;
}

/** IEEE 802 local experimental EtherType 1. */
export const CONFORMANCE_ETHERTYPE = 0x88b5;
const MAGIC = 0x41_4e_43_46; // "ANCF"
const TEST_HEADER = 14 + 16;
const BROADCAST = new Uint8Array([255, 255, 255, 255, 255, 255]);

/** Builds a test frame into `out` (whose length is the frame length). */
function fillTestFrame(
  out: Uint8Array,
  dst: Uint8Array,
  src: Uint8Array,
  tag: number,
  seq: number,
) {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(dst.subarray(0, 6), 0);
  out.set(src.subarray(0, 6), 6);
  v.setUint16(12, CONFORMANCE_ETHERTYPE);
  v.setUint32(14, MAGIC);
  v.setUint32(18, tag);
  v.setUint32(22, seq);
  v.setUint32(26, out.length);
  for (let i = TEST_HEADER; i < out.length; i++) out[i] = (seq * 31 + i * 7) & 0xff;
  return out;
}

function testFrame(length: number, dst: Uint8Array, src: Uint8Array, tag: number, seq: number) {
  return fillTestFrame(new Uint8Array(length), dst, src, tag, seq);
}

interface Received {
  readonly seq: number;
  readonly length: number;
  readonly intact: boolean;
  readonly src: string;
}

/** Listens on a netif, keeps the suite's frames of this run and checks their bytes. */
class Collector {
  readonly frames: Received[] = [];
  #waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(readonly tag: number) {}

  readonly listener = (frame: Uint8Array): void => {
    if (frame.length < TEST_HEADER) return;
    const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    if (v.getUint16(12) !== CONFORMANCE_ETHERTYPE || v.getUint32(14) !== MAGIC) return;
    if (v.getUint32(18) !== this.tag) return;
    const seq = v.getUint32(22);
    const length = v.getUint32(26);
    // A real wire may pad a short frame to 60 bytes; nothing else may change.
    let intact = frame.length === length || (length < 60 && frame.length <= 60);
    for (let i = TEST_HEADER; intact && i < length; i++) {
      if (frame[i] !== ((seq * 31 + i * 7) & 0xff)) intact = false;
    }
    this.frames.push({ seq, length, intact, src: hex(frame.subarray(6, 12)) });
    this.#waiters = this.#waiters.filter((w) => {
      if (this.frames.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  /** Resolves once `count` frames have arrived in total. */
  until(count: number): Promise<void> {
    if (this.frames.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  get seqs(): number[] {
    return this.frames.map((f) => f.seq);
  }
}

const hex = (mac: Uint8Array) => [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");

function newTag(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}

function within<T>(promise: Promise<T>, ns: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ns / 1e6);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const delta = (after: NetifStats, before: NetifStats, key: keyof NetifStats) =>
  after[key] - before[key];

const snapshot = (s: NetifStats): NetifStats => ({ ...s });

export function netifConformance<H extends NetifHarness>(
  options: NetifConformanceOptions<H>,
): void {
  const run = (body: (h: H, t: Tools) => Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h, tools(h));
    } finally {
      await options.teardown?.(h);
    }
  };

  describe(`Netif conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "has a 6-byte unicast MAC, distinct per interface, and a sane MTU",
      run(async ({ a, b }) => {
        for (const n of [a, b]) {
          expect(n.mac).toBeInstanceOf(Uint8Array);
          expect(n.mac.length).toBe(6);
          expect(n.mac[0]! & 1).toBe(0);
          expect([...n.mac].some((x) => x !== 0)).toBe(true);
          expect(Number.isInteger(n.mtu)).toBe(true);
          expect(n.mtu).toBeGreaterThanOrEqual(68);
          expect(n.mtu).toBeLessThanOrEqual(65535);
        }
        expect(hex(a.mac)).not.toBe(hex(b.mac));
      }),
    );

    it(
      "delivers unicast frames intact and in order, at every size up to mtu + 14",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        const max = Math.min(a.mtu, b.mtu) + 14;
        const sizes = [
          ...new Set(
            [60, 61, 64, 65, 128, 577, 1000, 1514, 4096, 9014, max].filter((s) => s <= max),
          ),
        ];
        const total = sizes.length * 20;
        let seq = 0;
        while (seq < total) {
          // Windows of 32 frames: every driver's queues hold that much.
          const end = Math.min(total, seq + 32);
          for (; seq < end; seq++) {
            const frame = testFrame(sizes[seq % sizes.length]!, b.mac, a.mac, got.tag, seq);
            expect(a.write(frame)).toBe(true);
          }
          await t.receive(got, end, "unicast frames a → b");
        }
        expect(got.seqs).toEqual(Array.from({ length: total }, (_, i) => i));
        expect(got.frames.every((f) => f.intact)).toBe(true);
        expect(got.frames.map((f) => f.length)).toEqual(
          Array.from({ length: total }, (_, i) => sizes[i % sizes.length]),
        );
      }),
    );

    it(
      "delivers in both directions",
      run(async ({ a, b }, t) => {
        const atA = new Collector(newTag());
        const atB = new Collector(atA.tag);
        a.listen(atA.listener);
        b.listen(atB.listener);
        for (let i = 0; i < 20; i++) {
          expect(a.write(testFrame(100 + i, b.mac, a.mac, atA.tag, i))).toBe(true);
          expect(b.write(testFrame(200 + i, a.mac, b.mac, atA.tag, 100 + i))).toBe(true);
        }
        await t.receive(atB, 20, "frames a → b");
        await t.receive(atA, 20, "frames b → a");
        expect(atB.seqs).toEqual(Array.from({ length: 20 }, (_, i) => i));
        expect(atA.seqs).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
        expect([...atA.frames, ...atB.frames].every((f) => f.intact)).toBe(true);
      }),
    );

    it(
      "delivers broadcast frames",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        for (let i = 0; i < 5; i++) {
          expect(a.write(testFrame(60 + i * 100, BROADCAST, a.mac, got.tag, i))).toBe(true);
        }
        await t.receive(got, 5, "broadcast frames");
        expect(got.seqs).toEqual([0, 1, 2, 3, 4]);
        expect(got.frames.every((f) => f.intact && f.src === hex(a.mac))).toBe(true);
      }),
    );

    it(
      "copies or sends a frame before write returns: the caller may reuse the buffer at once",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        const buffer = new Uint8Array(Math.min(1000, a.mtu + 14));
        for (let seq = 0; seq < 20; seq++) {
          fillTestFrame(buffer, b.mac, a.mac, got.tag, seq);
          expect(a.write(buffer)).toBe(true);
        }
        buffer.fill(0);
        await t.receive(got, 20, "frames written from one reused buffer");
        expect(got.seqs).toEqual(Array.from({ length: 20 }, (_, i) => i));
        expect(got.frames.every((f) => f.intact)).toBe(true);
      }),
    );

    it(
      "never delivers a frame synchronously with the write that sends it",
      run(async ({ a, b }, t) => {
        const tag = newTag();
        const atA = new Collector(tag);
        const atB = new Collector(tag);
        let writing = false;
        let synchronous = 0;
        a.listen((frame) => {
          if (writing) synchronous++;
          atA.listener(frame);
        });
        b.listen((frame) => {
          if (writing) synchronous++;
          const before = atB.frames.length;
          atB.listener(frame);
          // Answer from inside the listener: the reply must not reach a within this write either.
          if (atB.frames.length > before) {
            writing = true;
            b.write(testFrame(80, a.mac, b.mac, tag, 1000 + atB.frames.at(-1)!.seq));
            writing = false;
          }
        });
        for (let i = 0; i < 10; i++) {
          writing = true;
          a.write(testFrame(70, b.mac, a.mac, tag, i));
          writing = false;
        }
        await t.receive(atB, 10, "frames a → b");
        await t.receive(atA, 10, "replies b → a");
        expect(synchronous).toBe(0);
      }),
    );

    it(
      "counts the bytes and packets it sends and receives",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        const beforeA = snapshot(a.stats);
        const beforeB = snapshot(b.stats);
        let bytes = 0;
        for (let i = 0; i < 25; i++) {
          const frame = testFrame(60 + i * 37, b.mac, a.mac, got.tag, i);
          bytes += frame.length;
          expect(a.write(frame)).toBe(true);
        }
        await t.receive(got, 25, "counted frames");
        const afterA = snapshot(a.stats);
        const afterB = snapshot(b.stats);
        expect(delta(afterA, beforeA, "txPackets")).toBe(25);
        expect(delta(afterA, beforeA, "txBytes")).toBe(bytes);
        expect(delta(afterA, beforeA, "txErrors")).toBe(0);
        expect(delta(afterA, beforeA, "txDropped")).toBe(0);
        // b's segment may carry other traffic too (a kernel's), never less than ours.
        expect(delta(afterB, beforeB, "rxPackets")).toBeGreaterThanOrEqual(25);
        expect(delta(afterB, beforeB, "rxBytes")).toBeGreaterThanOrEqual(bytes);
      }),
    );

    it(
      "refuses frames shorter than 14 bytes or longer than mtu + 14 and counts them as tx errors",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        const before = snapshot(a.stats);
        expect(a.write(new Uint8Array(0))).toBe(false);
        expect(a.write(new Uint8Array(13))).toBe(false);
        expect(a.write(testFrame(a.mtu + 15, b.mac, a.mac, got.tag, 1))).toBe(false);
        expect(a.write(testFrame(a.mtu + 200, b.mac, a.mac, got.tag, 2))).toBe(false);
        const after = snapshot(a.stats);
        expect(delta(after, before, "txErrors")).toBe(4);
        expect(delta(after, before, "txPackets")).toBe(0);
        expect(delta(after, before, "txBytes")).toBe(0);
        // Frames arrive in order: once the sentinel is in, a refused frame would have been too.
        expect(a.write(testFrame(64, b.mac, a.mac, got.tag, 3))).toBe(true);
        await t.receive(got, 1, "the sentinel frame");
        expect(got.seqs).toEqual([3]);
      }),
    );

    it(
      "sends a frame of exactly mtu + 14 bytes",
      run(async ({ a, b }, t) => {
        const got = new Collector(newTag());
        b.listen(got.listener);
        const length = Math.min(a.mtu, b.mtu) + 14;
        expect(a.write(testFrame(length, b.mac, a.mac, got.tag, 7))).toBe(true);
        await t.receive(got, 1, "a frame of mtu + 14 bytes");
        expect(got.frames[0]).toMatchObject({ seq: 7, length, intact: true });
      }),
    );

    it(
      "replaces its listener: later frames go to the new one only",
      run(async ({ a, b }, t) => {
        const tag = newTag();
        const first = new Collector(tag);
        const second = new Collector(tag);
        b.listen(first.listener);
        a.write(testFrame(64, b.mac, a.mac, tag, 1));
        await t.receive(first, 1, "a frame for the first listener");
        b.listen(second.listener);
        a.write(testFrame(64, b.mac, a.mac, tag, 2));
        a.write(testFrame(64, b.mac, a.mac, tag, 3));
        await t.receive(second, 2, "frames for the second listener");
        expect(first.seqs).toEqual([1]);
        expect(second.seqs).toEqual([2, 3]);
      }),
    );

    it(
      "refuses writes after disconnect and counts them as dropped",
      run(async (h) => {
        const { a, b } = h;
        await h.disconnect(a);
        const before = snapshot(a.stats);
        expect(a.write(testFrame(64, b.mac, a.mac, newTag(), 1))).toBe(false);
        expect(a.write(testFrame(64, BROADCAST, a.mac, newTag(), 2))).toBe(false);
        const after = snapshot(a.stats);
        expect(delta(after, before, "txDropped")).toBe(2);
        expect(delta(after, before, "txPackets")).toBe(0);
      }),
    );

    it(
      "delivers nothing after disconnect",
      run(async (h, t) => {
        const { a, b } = h;
        const got = new Collector(newTag());
        b.listen(got.listener);
        // In flight to b when it disconnects: must not be delivered afterwards.
        a.write(testFrame(64, b.mac, a.mac, got.tag, 1));
        await h.disconnect(b);
        const seen = got.frames.length;
        a.write(testFrame(64, b.mac, a.mac, got.tag, 2));
        a.write(testFrame(64, BROADCAST, a.mac, got.tag, 3));
        await t.settle();
        expect(got.frames.length).toBe(seen);
      }),
    );
  });
}

interface Tools {
  receive(collector: Collector, count: number, what: string): Promise<void>;
  settle(): Promise<void>;
}

function tools(h: NetifHarness): Tools {
  const timeoutNs = h.timeoutNs ?? 5e9;
  return {
    receive: (collector, count, what) => h.wait(within(collector.until(count), timeoutNs, what)),
    settle: () => (h.settle ? h.settle() : new Promise((resolve) => setTimeout(resolve, 50))),
  };
}
