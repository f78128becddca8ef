import { VirtualTime } from "@atoll/clock";
import { createUnikernel, isAtollError } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import {
  ImpairedNetif,
  type ImpairOptions,
  impair,
  MemoryPcapSink,
  MemorySwitch,
  Netif,
  pcap,
} from "../src/index.js";
import { rawFrame, seqOf } from "./frames.js";

const US = 1e3;
const MS = 1e6;

interface Arrival {
  seq: number;
  at: number;
  frame: Uint8Array;
}

/** a (impaired) and b (a plain port) on one switch, under virtual time and a seeded Random. */
function link(seed: number, options: ImpairOptions = {}) {
  const world = new VirtualTime();
  const sw = new MemorySwitch({ id: 1, queueLength: 1 << 16, mtu: 9000 });
  const port = sw.attach();
  const b = sw.attach();
  const a = new ImpairedNetif(
    port,
    { clock: world.clock, time: world.timers, random: new SeededRandom(seed) },
    options,
  );
  const atB: Arrival[] = [];
  const atA: Arrival[] = [];
  b.listen((f) => atB.push({ seq: seqOf(f), at: world.now(), frame: f.slice() }));
  a.listen((f) => atA.push({ seq: seqOf(f), at: world.now(), frame: f.slice() }));
  const sent: Uint8Array[] = [];
  /** Writes `n` frames from a to b, `spacingNs` apart, then lets everything arrive. */
  const send = async (n: number, spacingNs = 0, length = 200) => {
    const results: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const frame = rawFrame(b.mac, port.mac, sent.length, length);
      sent.push(frame);
      results.push(a.write(frame));
      if (spacingNs > 0) await world.advance(spacingNs);
    }
    await world.runUntilIdle();
    return results;
  };
  return { world, a, b, port, atA, atB, sent, send, stats: a.impairments.stats };
}

const withSeed = (seed: number, body: () => Promise<void>) =>
  body().catch((error: unknown) => {
    throw new Error(`failed with seed ${seed}: ${error instanceof Error ? error.message : error}`, {
      cause: error,
    });
  });

describe("ImpairedNetif", () => {
  it("passes frames through untouched when nothing is configured", async () => {
    const l = link(1);
    await l.send(100);
    expect(l.atB.map((x) => x.seq)).toEqual(l.sent.map((_, i) => i));
    expect(l.atB.every((x, i) => x.frame.join() === l.sent[i]!.join())).toBe(true);
    expect(l.world.pendingTimers).toBe(0);
    expect(l.stats.tx).toMatchObject({ frames: 100, delivered: 100, lost: 0 });
  });

  it("loses frames with the configured probability", async () => {
    for (const seed of [1, 2, 3]) {
      await withSeed(seed, async () => {
        const l = link(seed, { tx: { loss: 0.1 } });
        await l.send(10_000);
        const lost = 10_000 - l.atB.length;
        // Binomial(10000, 0.1): sd 30; 5 sd either side.
        expect(lost).toBeGreaterThan(850);
        expect(lost).toBeLessThan(1150);
        expect(l.stats.tx.lost).toBe(lost);
        const seqs = l.atB.map((x) => x.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        // Lost frames still count as sent: the link lost them, not the interface.
        expect(l.a.stats.txPackets).toBe(10_000);
      });
    }
    const none = link(4, { loss: 0 });
    await none.send(500);
    expect(none.atB.length).toBe(500);
    const all = link(4, { loss: 1 });
    await all.send(500);
    expect(all.atB.length).toBe(0);
  });

  it("duplicates frames with the configured probability, each copy right after the original", async () => {
    const l = link(5, { duplicate: 0.05 });
    await l.send(10_000);
    const extra = l.atB.length - 10_000;
    expect(extra).toBe(l.stats.tx.duplicated);
    expect(extra).toBeGreaterThan(400); // Binomial(10000, 0.05): mean 500, sd 22
    expect(extra).toBeLessThan(600);
    const distinct = [...new Set(l.atB.map((x) => x.seq))];
    expect(distinct).toEqual(l.sent.map((_, i) => i));
  });

  it("corrupts frames by flipping exactly the configured number of bits after the Ethernet header", async () => {
    const l = link(6, { corrupt: 0.1, corruptBits: 3 });
    await l.send(5000);
    let corrupted = 0;
    // No loss: arrival i is frame i (its sequence number may be among the flipped bits).
    expect(l.atB.length).toBe(5000);
    for (const [i, { frame }] of l.atB.entries()) {
      const original = l.sent[i]!;
      let bits = 0;
      for (let i = 0; i < frame.length; i++) {
        const diff = frame[i]! ^ original[i]!;
        if (diff !== 0) expect(i).toBeGreaterThanOrEqual(14);
        for (let d = diff; d !== 0; d &= d - 1) bits++;
      }
      if (bits > 0) {
        corrupted++;
        expect(bits).toBe(3);
      }
    }
    expect(corrupted).toBe(l.stats.tx.corrupted);
    expect(corrupted).toBeGreaterThan(400); // Binomial(5000, 0.1): mean 500, sd 21
    expect(corrupted).toBeLessThan(600);
    // The caller's buffers are never touched.
    expect(l.sent.every((f, i) => f.join() === rawFrame(l.b.mac, l.port.mac, i, 200).join())).toBe(
      true,
    );
  });

  it("reorders: a held-back frame is overtaken by the ones sent after it", async () => {
    const l = link(7, { reorder: 0.2, reorderDelayNs: 1 * MS });
    await l.send(2000, 100 * US);
    expect(l.atB.length).toBe(2000);
    const seqs = l.atB.map((x) => x.seq);
    let late = 0;
    let highest = -1;
    for (const s of seqs) {
      if (s < highest) late++;
      else highest = s;
    }
    expect(late).toBe(l.stats.tx.reordered);
    expect(late).toBeGreaterThan(320); // Binomial(2000, 0.2): mean 400, sd 18
    expect(late).toBeLessThan(480);
    expect([...seqs].sort((x, y) => x - y)).toEqual(l.sent.map((_, i) => i));
  });

  it("delays every frame by the fixed delay", async () => {
    const l = link(8, { delayNs: 5 * MS });
    const sentAt: number[] = [];
    for (let i = 0; i < 50; i++) {
      sentAt.push(l.world.now());
      l.a.write(rawFrame(l.b.mac, l.port.mac, i));
      await l.world.advance(300 * US);
    }
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.at - sentAt[x.seq]!)).toEqual(Array(50).fill(5 * MS));
    expect(l.stats.tx.delayed).toBe(50);
  });

  it("adds jitter without reordering", async () => {
    const l = link(9, { delayNs: 5 * MS, jitterNs: 2 * MS });
    const sentAt: number[] = [];
    for (let i = 0; i < 200; i++) {
      sentAt.push(l.world.now());
      l.a.write(rawFrame(l.b.mac, l.port.mac, i));
      await l.world.advance(500 * US);
    }
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.seq)).toEqual(sentAt.map((_, i) => i));
    const delays = l.atB.map((x) => x.at - sentAt[x.seq]!);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(5 * MS);
    expect(Math.max(...delays)).toBeLessThanOrEqual(7 * MS + 2 * MS);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  it("limits the rate, queueing up to its bound and dropping beyond", async () => {
    const l = link(10, { tx: { rateBytesPerSecond: 1_000_000, rateQueueBytes: 50_000 } });
    const results = await l.send(100, 0, 1000);
    // 50 frames of 1000 bytes fit the queue; the rest are refused.
    expect(results.filter(Boolean).length).toBe(50);
    expect(l.stats.tx.rateDropped).toBe(50);
    expect(l.a.stats.txDropped).toBe(50);
    expect(l.atB.length).toBe(50);
    // One frame per millisecond at 1 MB/s.
    const gaps = l.atB.slice(1).map((x, i) => x.at - l.atB[i]!.at);
    expect(gaps.every((g) => Math.abs(g - 1 * MS) <= 1)).toBe(true);
    expect(l.atB.at(-1)!.at).toBeCloseTo(50 * MS, -2);
  });

  it("enforces a smaller MTU in both directions", async () => {
    const l = link(11, { mtu: 1000 });
    expect(l.a.mtu).toBe(1000);
    expect(l.a.write(rawFrame(l.b.mac, l.port.mac, 1, 1015))).toBe(false);
    expect(l.a.stats.txErrors).toBe(1);
    expect(l.a.write(rawFrame(l.b.mac, l.port.mac, 2, 1014))).toBe(true);
    l.b.write(rawFrame(l.port.mac, l.b.mac, 3, 1100));
    l.b.write(rawFrame(l.port.mac, l.b.mac, 4, 1000));
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.seq)).toEqual([2]);
    expect(l.atA.map((x) => x.seq)).toEqual([4]);
    expect(l.stats.tx.mtuDropped).toBe(1);
    expect(l.stats.rx.mtuDropped).toBe(1);
    expect(l.a.stats.rxDropped).toBe(1);
  });

  it("partitions and heals at run time, per direction", async () => {
    const l = link(12);
    const exchange = async (seq: number) => {
      l.a.write(rawFrame(l.b.mac, l.port.mac, seq));
      l.b.write(rawFrame(l.port.mac, l.b.mac, seq));
      await l.world.runUntilIdle();
    };
    await exchange(1);
    l.a.impairments.partition();
    await exchange(2);
    l.a.impairments.partition(false);
    l.a.impairments.partition(true, "tx");
    await exchange(3);
    l.a.impairments.partition(false, "tx");
    await exchange(4);
    expect(l.atB.map((x) => x.seq)).toEqual([1, 4]);
    expect(l.atA.map((x) => x.seq)).toEqual([1, 3, 4]);
    expect(l.stats.tx.partitioned).toBe(2);
    expect(l.stats.rx.partitioned).toBe(1);
  });

  it("impairs the receive direction separately", async () => {
    const l = link(13, { rx: { loss: 1 } });
    l.a.write(rawFrame(l.b.mac, l.port.mac, 1));
    l.b.write(rawFrame(l.port.mac, l.b.mac, 2));
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.seq)).toEqual([1]);
    expect(l.atA).toEqual([]);
    expect(l.stats.rx.lost).toBe(1);
  });

  it("changes settings while running and keeps order across the change", async () => {
    const l = link(14, { delayNs: 10 * MS });
    l.a.write(rawFrame(l.b.mac, l.port.mac, 1));
    l.a.impairments.configure({ delayNs: 0 });
    l.a.write(rawFrame(l.b.mac, l.port.mac, 2));
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.seq)).toEqual([1, 2]);
    l.a.impairments.configure({ loss: 1 });
    await l.send(10);
    expect(l.atB.length).toBe(2);
    l.a.impairments.reset();
    await l.send(10);
    expect(l.atB.length).toBe(12);
    expect(l.a.impairments.settings("tx")).toMatchObject({ loss: 0, delayNs: 0 });
  });

  it("bounds what is in flight", async () => {
    const l = link(15, { delayNs: 1 * MS, limit: 10 });
    const results = await l.send(15);
    expect(results.filter(Boolean).length).toBe(10);
    expect(l.stats.tx.overflowDropped).toBe(5);
    expect(l.atB.length).toBe(10);
  });

  it("drops what is in flight on disconnect and refuses later writes", async () => {
    const l = link(16, { delayNs: 1 * MS });
    await l.send(5, 0);
    l.a.write(rawFrame(l.b.mac, l.port.mac, 99));
    expect(l.a.inFlight.tx).toBe(1);
    l.a.disconnect();
    expect(l.world.pendingTimers).toBe(0);
    expect(l.a.write(rawFrame(l.b.mac, l.port.mac, 100))).toBe(false);
    await l.world.runUntilIdle();
    expect(l.atB.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it("rejects bad settings without changing anything", () => {
    const l = link(17, { loss: 0.5 });
    for (const bad of [{ loss: 10 }, { duplicate: -1 }, { corruptBits: 0 }, { mtu: 20 }]) {
      let error: unknown;
      try {
        l.a.impairments.configure({ delayNs: 5, ...bad });
      } catch (e) {
        error = e;
      }
      expect(isAtollError(error, "ATOLL_NETIF_INVALID_OPTION")).toBe(true);
    }
    expect(l.a.impairments.settings("tx")).toMatchObject({ loss: 0.5, delayNs: 0 });
  });

  it("is exactly reproducible: same seed, same frames at the same instants; another seed differs", async () => {
    const options: ImpairOptions = {
      loss: 0.05,
      duplicate: 0.05,
      corrupt: 0.05,
      reorder: 0.1,
      reorderDelayNs: 2 * MS,
      delayNs: 3 * MS,
      jitterNs: 1 * MS,
      rateBytesPerSecond: 2_000_000,
      rx: { loss: 0.02 },
    };
    const trace = async (seed: number) => {
      const l = link(seed, options);
      for (let i = 0; i < 1000; i++) {
        l.a.write(rawFrame(l.b.mac, l.port.mac, i, 100 + (i % 7) * 100));
        l.b.write(rawFrame(l.port.mac, l.b.mac, i, 80));
        await l.world.advance(150 * US);
      }
      await l.world.runUntilIdle();
      const line = (x: Arrival) => `${x.at}:${x.seq}:${x.frame.join(",")}`;
      return [...l.atB.map(line), "|", ...l.atA.map(line)].join("\n");
    };
    const first = await trace(42);
    expect(await trace(42)).toBe(first);
    expect(await trace(43)).not.toBe(first);
  });
});

describe("impair() and pcap() drivers", () => {
  it("wrap a switch port in a unikernel, stacked by naming what they wrap", async () => {
    const world = new VirtualTime();
    const sw = new MemorySwitch();
    const peer = sw.attach();
    const sink = new MemoryPcapSink();
    const link = impair({ wraps: "port", delayNs: 1 * MS });
    const received: number[] = [];
    const App = createUnikernel({
      name: "wrapped",
      needs: { netif: Netif },
      start({ netif }) {
        netif.listen((f) => received.push(seqOf(f)));
        netif.write(rawFrame(peer.mac, netif.mac, 1));
        return () => {};
      },
    });
    const port = sw.port();
    const uk = App({
      netif: pcap({ sink, wraps: "impaired" }),
      impaired: link,
      port,
      clock: world.monotonic(),
      wallClock: world.wall(),
      time: world.time(),
      random: (await import("@atoll/entropy")).seededRandom(1),
    });
    const arrived: number[] = [];
    peer.listen((f) => arrived.push(seqOf(f)));
    await world.run(uk.start());
    expect(arrived).toEqual([]);
    await world.advance(1 * MS);
    expect(arrived).toEqual([1]);
    peer.write(rawFrame(port.netif.mac, peer.mac, 2));
    await world.advance(0.5 * MS);
    expect(received).toEqual([]); // rx is delayed too
    await world.advance(0.5 * MS);
    expect(received).toEqual([2]);
    expect(link.impairments.stats.tx.delayed).toBe(1);
    await uk.stop();
    expect(sink.closed).toBe(true);
    expect(port.netif.attached).toBe(false);
    // header + two records of 64-byte frames
    expect(sink.bytes().length).toBe(24 + 2 * (16 + 64));
  });
});
