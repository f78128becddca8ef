// Property tests: whatever frames and settings arrive, nothing throws out of
// a device, every frame is accounted for, and memory stays within its bounds.

import { VirtualTime } from "@atoll/clock";
import { isAtollError } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ImpairedNetif,
  type ImpairOptions,
  MemoryPcapSink,
  MemorySwitch,
  PcapNetif,
} from "../src/index.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Frames biased towards the interesting: group and known addresses, boundary lengths. */
const frameArb = (macs: Uint8Array[], mtu: number) =>
  fc
    .record({
      length: fc.oneof(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: mtu + 40 }),
        fc.constantFrom(13, 14, mtu + 13, mtu + 14, mtu + 15),
      ),
      dst: fc.oneof(
        fc.constantFrom(...macs),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.constant(new Uint8Array(6).fill(255)),
      ),
      src: fc.oneof(fc.constantFrom(...macs), fc.uint8Array({ minLength: 6, maxLength: 6 })),
      fill: fc.integer({ min: 0, max: 255 }),
    })
    .map(({ length, dst, src, fill }) => {
      const frame = new Uint8Array(length).fill(fill);
      frame.set(dst.subarray(0, Math.min(6, length)));
      if (length > 6) frame.set(src.subarray(0, Math.min(6, length - 6)), 6);
      return frame;
    });

describe("fuzz", () => {
  it("the switch takes any frames on any ports without throwing, within its bounds, accounting for each", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 300 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        async (portCount, plan, seed) => {
          const sw = new MemorySwitch({ maxMacs: 8, queueLength: 16, mtu: 200 });
          const ports = Array.from({ length: portCount }, () => sw.attach());
          const delivered = ports.map(() => 0);
          ports.forEach((p, i) => {
            p.listen((frame) => {
              expect(frame.length).toBeGreaterThanOrEqual(14);
              delivered[i]!++;
            });
          });
          const frames = fc.sample(
            frameArb(
              ports.map((p) => p.mac),
              200,
            ),
            {
              numRuns: plan.length,
              seed,
            },
          );
          const writes = ports.map(() => 0);
          for (const [k, [who, when]] of plan.entries()) {
            const i = who % portCount;
            writes[i]!++;
            expect(typeof ports[i]!.write(frames[k]!)).toBe("boolean");
            expect(sw.macTable().size).toBeLessThanOrEqual(8);
            expect(ports.every((p) => p.queued <= 16)).toBe(true);
            if (when % 7 === 0) await tick();
          }
          await tick();
          for (const [i, p] of ports.entries()) {
            const s = p.stats;
            expect(s.txPackets + s.txErrors + s.txDropped).toBe(writes[i]);
            expect(s.rxPackets).toBe(delivered[i]);
            expect(p.queued).toBe(0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("impairments take any valid settings and frames without throwing and release everything", async () => {
    const probability = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true }));
    const lane = fc.record(
      {
        loss: probability,
        duplicate: probability,
        corrupt: probability,
        corruptBits: fc.integer({ min: 1, max: 64 }),
        corruptFrom: fc.integer({ min: 0, max: 100 }),
        reorder: probability,
        reorderDelayNs: fc.integer({ min: 0, max: 5e6 }),
        delayNs: fc.integer({ min: 0, max: 5e6 }),
        jitterNs: fc.integer({ min: 0, max: 5e6 }),
        rateBytesPerSecond: fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 1e9 })),
        limit: fc.integer({ min: 1, max: 50 }),
        partitioned: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { tx: lane, rx: lane, mtu: fc.integer({ min: 68, max: 1500 }) },
          { requiredKeys: [] },
        ),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2e6 })), { maxLength: 80 }),
        fc.integer(),
        async (options, plan, seed) => {
          const world = new VirtualTime();
          const sw = new MemorySwitch({ queueLength: 4096 });
          const port = sw.attach();
          const peer = sw.attach();
          const a = new ImpairedNetif(
            port,
            { clock: world.clock, time: world.timers, random: new SeededRandom(seed) },
            options as ImpairOptions,
          );
          a.listen(() => {});
          peer.listen(() => {});
          const frames = fc.sample(frameArb([port.mac, peer.mac], 1500), {
            numRuns: plan.length,
            seed,
          });
          for (const [k, [outbound, wait]] of plan.entries()) {
            if (outbound) expect(typeof a.write(frames[k]!)).toBe("boolean");
            else peer.write(frames[k]!);
            if (wait > 0) await world.advance(wait);
          }
          await world.runUntilIdle({ maxSteps: 100_000 });
          expect(a.inFlight).toEqual({ tx: 0, rx: 0 });
          expect(world.pendingTimers).toBe(0);
          for (const c of [a.impairments.stats.tx, a.impairments.stats.rx]) {
            expect(c.delivered).toBeLessThanOrEqual(2 * c.frames);
            expect(c.lost + c.partitioned).toBeLessThanOrEqual(c.frames);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("configure() accepts or rejects any input with ATOLL_NETIF_INVALID_OPTION, nothing else", () => {
    const value = fc.oneof(fc.double(), fc.integer(), fc.constant(Number.NaN), fc.boolean());
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            "loss",
            "duplicate",
            "corrupt",
            "corruptBits",
            "delayNs",
            "limit",
            "mtu",
            "rateBytesPerSecond",
          ),
          value,
        ),
        (raw) => {
          const world = new VirtualTime();
          const a = new ImpairedNetif(new MemorySwitch().attach(), {
            clock: world.clock,
            time: world.timers,
            random: new SeededRandom(1),
          });
          try {
            a.impairments.configure(raw as ImpairOptions);
          } catch (error) {
            expect(isAtollError(error, "ATOLL_NETIF_INVALID_OPTION")).toBe(true);
          }
        },
      ),
    );
  });

  it("pcap records any frames it passes, byte for byte", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 14, maxLength: 1514 }), { maxLength: 50 }),
        async (frames) => {
          const sw = new MemorySwitch();
          const sink = new MemoryPcapSink();
          const a = new PcapNetif(
            sw.attach(),
            { now: () => 0, tzOffsetSeconds: () => 0 },
            { sink, bufferBytes: 1024 },
          );
          for (const f of frames) expect(a.write(f)).toBe(true);
          await a.disconnect();
          const bytes = sink.bytes();
          let at = 24;
          for (const f of frames) {
            const v = new DataView(bytes.buffer, at);
            expect(v.getUint32(8, true)).toBe(f.length);
            expect(Buffer.from(bytes.subarray(at + 16, at + 16 + f.length)).equals(f)).toBe(true);
            at += 16 + f.length;
          }
          expect(at).toBe(bytes.length);
        },
      ),
      { numRuns: 50 },
    );
  });
});
