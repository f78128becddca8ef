// The JavaScript half of the driver against a scripted native handle: batch
// delivery and its counters, the transmit ring, EAGAIN and writable wake-ups,
// refused frames, a failed device. Runs anywhere, no TAP needed.

import { silentLogger } from "@atoll/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NativeTapHandle, TapAddon } from "../src/addon.js";
import { TapDevice } from "../src/tap.js";

const EBADFD = 77;
const EINVAL = 22;

/** A native handle whose kernel is a script: frames written go to `sent`, up to `budget` per flush. */
class ScriptedHandle implements NativeTapHandle {
  sent: Uint8Array[] = [];
  /** Frames the kernel takes before it says EAGAIN; Infinity for never. */
  budget = Number.POSITIVE_INFINITY;
  /** Frames (by index in `sent` order) the kernel refuses with EINVAL. */
  refuse = new Set<number>();
  flushes = 0;
  wantsWritable = false;
  closed = false;
  started = false;
  #attempts = 0;

  constructor(
    readonly fd: number,
    readonly rxArena: Uint8Array,
    readonly rxLengths: Int32Array,
    readonly txArena: Uint8Array,
    readonly txLengths: Int32Array,
    readonly slotSize: number,
    readonly status: Int32Array,
    readonly onEvent: (kind: number, value: number) => void,
  ) {}

  start(): void {
    this.started = true;
  }
  wantWritable(): void {
    this.wantsWritable = true;
  }
  flush(head: number, count: number): number {
    this.flushes++;
    const slots = this.txLengths.length;
    let done = 0;
    let failed = 0;
    this.status[2] = 0;
    while (done < count) {
      if (this.budget === 0) {
        this.status[2] = 1;
        break;
      }
      const slot = (head + done) % slots;
      const length = this.txLengths[slot]!;
      const attempt = this.#attempts++;
      if (this.refuse.has(attempt)) {
        failed++;
        this.status[1] = EINVAL;
        this.txLengths[slot] = -length;
      } else {
        this.sent.push(this.txArena.slice(slot * this.slotSize, slot * this.slotSize + length));
      }
      this.budget--;
      done++;
    }
    this.status[0] = failed;
    return done;
  }
  close(): void {
    this.closed = true;
  }

  /** Delivers frames as one batch, as the addon does after reading until EAGAIN. */
  receive(frames: Uint8Array[]): void {
    frames.forEach((frame, i) => {
      this.rxArena.set(frame.subarray(0, this.slotSize), i * this.slotSize);
      this.rxLengths[i] = frame.length;
    });
    this.onEvent(0, frames.length);
  }
}

function open(options: { mtu?: number; rxBatch?: number; txQueue?: number } = {}) {
  let handle: ScriptedHandle | undefined;
  const addon = {
    TapHandle: class extends ScriptedHandle {
      constructor(...args: ConstructorParameters<typeof ScriptedHandle>) {
        super(...args);
        handle = this;
      }
    },
    closeFd() {},
    open() {
      throw new Error("unused");
    },
  } as unknown as TapAddon;
  const device = new TapDevice(
    { name: "tap9", ifindex: 9, mtu: options.mtu ?? 1500, hostMac: new Uint8Array(6) },
    Uint8Array.of(2, 0, 0, 0, 0, 1),
    { rxBatch: options.rxBatch, txQueue: options.txQueue },
    silentLogger,
  );
  device.attach(addon, 42);
  return { device, handle: handle! };
}

const frame = (size: number, seq: number) => {
  const f = new Uint8Array(size);
  for (let i = 0; i < size; i++) f[i] = (seq * 31 + i) & 0xff;
  return f;
};
const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("receiving", () => {
  it("delivers a batch in order, one call per frame, and counts it", () => {
    const { device, handle } = open();
    const got: number[][] = [];
    device.listen((f) => got.push([f.length, f[0]!]));
    handle.receive([frame(60, 1), frame(1514, 2), frame(14, 3)]);
    expect(got).toEqual([
      [60, frame(60, 1)[0]],
      [1514, frame(1514, 2)[0]],
      [14, frame(14, 3)[0]],
    ]);
    expect(device.stats).toMatchObject({
      rxPackets: 3,
      rxBytes: 60 + 1514 + 14,
      rxDropped: 0,
      rxErrors: 0,
    });
  });

  it("counts runts as errors, and oversized frames and frames nobody listens to as drops", () => {
    const { device, handle } = open({ mtu: 1500 });
    handle.receive([frame(60, 1)]);
    expect(device.stats.rxDropped).toBe(1);
    const got: Uint8Array[] = [];
    device.listen((f) => got.push(f.slice()));
    // A frame that fills its slot was truncated by the kernel: it was larger than mtu + 14.
    handle.receive([frame(13, 1), frame(0, 2), frame(1515, 3), frame(60, 4)]);
    expect(got).toHaveLength(1);
    expect(device.stats).toMatchObject({ rxPackets: 1, rxErrors: 2, rxDropped: 2 });
  });

  it("gives listeners views into a reused arena: valid only during the call", () => {
    const { device, handle } = open();
    const kept: Uint8Array[] = [];
    device.listen((f) => kept.push(f));
    handle.receive([frame(60, 1)]);
    const first = kept[0]!.slice();
    handle.receive([frame(60, 2)]);
    expect(kept[0]).not.toEqual(first);
  });

  it("stops a batch when the listener closes the device", () => {
    const { device, handle } = open();
    let calls = 0;
    device.listen(() => {
      calls++;
      device.close();
    });
    handle.receive([frame(60, 1), frame(60, 2), frame(60, 3)]);
    expect(calls).toBe(1);
    expect(handle.closed).toBe(true);
  });
});

describe("sending", () => {
  it("flushes everything written in one turn with one call", async () => {
    const { device, handle } = open();
    for (let i = 0; i < 10; i++) expect(device.write(frame(60 + i, i))).toBe(true);
    expect(handle.flushes).toBe(0);
    await microtasks();
    expect(handle.flushes).toBe(1);
    expect(handle.sent).toEqual(Array.from({ length: 10 }, (_, i) => frame(60 + i, i)));
    expect(device.stats).toMatchObject({ txPackets: 10, txBytes: 645, txDropped: 0 });
  });

  it("waits for a writable wake-up at EAGAIN, keeps order, and drops beyond its queue", async () => {
    const { device, handle } = open({ txQueue: 8 });
    handle.budget = 3;
    for (let i = 0; i < 6; i++) device.write(frame(60, i));
    await microtasks();
    expect(handle.sent).toHaveLength(3);
    expect(handle.wantsWritable).toBe(true);
    // While waiting, writes queue up (no flush) until the queue is full.
    const accepted = Array.from({ length: 6 }, (_, i) => device.write(frame(60, 6 + i)));
    expect(accepted).toEqual([true, true, true, true, true, false]);
    expect(device.stats.txDropped).toBe(1);
    await microtasks();
    expect(handle.flushes).toBe(1);
    handle.budget = Number.POSITIVE_INFINITY;
    handle.onEvent(1, 0);
    expect(handle.sent).toEqual(Array.from({ length: 11 }, (_, i) => frame(60, i)));
    expect(device.stats).toMatchObject({ txPackets: 11, txDropped: 1 });
  });

  it("moves frames the kernel refuses from sent to dropped", async () => {
    const { device, handle } = open();
    handle.refuse = new Set([1, 3]);
    for (let i = 0; i < 5; i++) device.write(frame(100, i));
    await microtasks();
    expect(handle.sent).toEqual([frame(100, 0), frame(100, 2), frame(100, 4)]);
    expect(device.stats).toMatchObject({ txPackets: 3, txBytes: 300, txDropped: 2 });
  });

  it("keeps a ring: any interleaving of writes and partial flushes sends every accepted frame once, in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ writes: fc.nat(12), budget: fc.nat(12) }), { maxLength: 30 }),
        async (steps) => {
          const { device, handle } = open({ txQueue: 8 });
          const accepted: Uint8Array[] = [];
          let seq = 0;
          for (const { writes, budget } of steps) {
            handle.budget = budget;
            for (let i = 0; i < writes; i++) {
              const f = frame(14 + (seq % 50), seq++);
              if (device.write(f)) accepted.push(f);
            }
            await microtasks();
            if (handle.wantsWritable) {
              handle.wantsWritable = false;
              handle.onEvent(1, 0);
            }
          }
          handle.budget = Number.POSITIVE_INFINITY;
          handle.onEvent(1, 0);
          await microtasks();
          expect(handle.sent).toEqual(accepted);
          expect(device.stats.txPackets).toBe(accepted.length);
          expect(device.stats.txPackets + device.stats.txDropped).toBe(seq);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("flushes what is queued when closed, then refuses writes", async () => {
    const { device, handle } = open();
    device.write(frame(60, 1));
    device.write(frame(60, 2));
    device.close();
    expect(handle.sent).toHaveLength(2);
    expect(handle.closed).toBe(true);
    expect(device.write(frame(60, 3))).toBe(false);
    expect(device.stats).toMatchObject({ txPackets: 2, txDropped: 1 });
    device.close();
    await microtasks();
    expect(handle.flushes).toBe(1);
  });
});

describe("a failed device", () => {
  it("goes down, drops what is queued and refuses writes", async () => {
    const { device, handle } = open();
    handle.budget = 0;
    device.write(frame(60, 1));
    await microtasks();
    handle.onEvent(2, EBADFD);
    expect(device.up).toBe(false);
    expect(device.write(frame(60, 2))).toBe(false);
    expect(device.stats).toMatchObject({ txPackets: 0, txDropped: 2 });
    device.close();
    expect(handle.closed).toBe(true);
  });
});
