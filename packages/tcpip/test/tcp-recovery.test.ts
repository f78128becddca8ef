// Loss recovery: RTO (RFC 6298: backoff, bounds, Karn, give-up), fast
// retransmit on three duplicate ACKs, NewReno partial ACKs (RFC 6582), SACK
// recovery of several holes (RFC 6675), and CUBIC next to NewReno.
import { createHash } from "node:crypto";
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { Cubic, NewReno } from "../src/tcp/congestion.js";
import { ACK, seqNumber } from "../src/tcp/wire.js";
import {
  A,
  B,
  capture,
  createPair,
  establish,
  type Pair,
  readAll,
  sameBytes,
  text,
  withSeed,
} from "./tcp-link.js";

const MS = 1e6;

function pattern(size: number, salt = 0): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + salt + (i >>> 8)) & 255;
  return b;
}

/** Client → server transfer of `data`; resolves with what the server read. */
async function transfer(pair: Pair, data: Uint8Array) {
  const { client, server } = await establish(pair);
  const receiving = readAll(server);
  const sending = (async () => {
    await client.write(data);
    await client.close();
  })();
  const [got] = await pair.world.run(Promise.all([receiving, sending]));
  return { got, client, server };
}

/** Drops the data segments (A → B) whose offset in the stream is listed, once each. */
function dropOnce(pair: Pair, offsets: number[], smss = 1448): void {
  let isn = -1;
  const pending = new Set(offsets);
  pair.link.filter = (src, _dst, seg) => {
    if (src !== A) return false;
    const seq = seqNumber(seg, 0);
    if (isn < 0) {
      isn = seq; // the SYN
      return false;
    }
    const headerLength = (seg[12]! >> 4) * 4;
    if (seg.length === headerLength) return false;
    const offset = (seq - isn - 1) >>> 0;
    for (const o of pending) {
      if (offset === o * smss) {
        pending.delete(o);
        return true;
      }
    }
    return false;
  };
}

describe("tcp: retransmission timer (RFC 6298)", () => {
  it("backs off exponentially, caps at maxRto, and gives up with ATOLL_TCP_TIMEOUT", async () => {
    const pair = createPair({
      configA: { maxRetransmissions: 6, minRtoNs: 200 * MS, maxRtoNs: 1000 * MS },
    });
    const { client, server } = await establish(pair);
    const pendingRead = client.read();
    pendingRead.catch(() => {});
    pair.link.impairments.down = true;
    const log = capture(pair.link);
    await pair.world.run(client.write(text("into the void")));
    const start = pair.world.now();
    await expect(pair.world.run(pendingRead)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_TIMEOUT"),
    );
    const sent = log.filter((x) => x.seg.payload.length > 0).map((x) => (x.at - start) / MS);
    // First transmission, then retransmissions after 200, 400, 800, 1000, 1000, 1000 ms.
    const gaps = sent.slice(1).map((t, i) => Math.round(t - sent[i]!));
    expect(gaps).toEqual([200, 400, 800, 1000, 1000, 1000]);
    expect(pair.a.stats.retransmissionTimeouts).toBe(6);
    expect(pair.a.stats.timeouts).toBe(1);
    await expect(client.write(text("x"))).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_TIMEOUT"),
    );
    expect(pair.a.engine.connectionCount).toBe(0);
    void server;
  });

  it("computes RTO from SRTT and RTTVAR, never below minRto", async () => {
    const pair = createPair({
      impairments: { delayNs: 100 * MS },
      configA: { timestamps: false, minRtoNs: 50 * MS },
      configB: { timestamps: false },
    });
    const { client, server } = await establish(pair);
    for (let i = 0; i < 8; i++) {
      await pair.world.run(client.write(text("ping")));
      await pair.world.run(server.read());
      await pair.world.advance(300 * MS);
    }
    const c = client.connection;
    // RTT is 200 ms plus the peer's delayed ACK (up to 40 ms).
    expect(c.srtt).toBeGreaterThanOrEqual(200 * MS);
    expect(c.srtt).toBeLessThanOrEqual(241 * MS);
    expect(c.rto).toBeCloseTo(c.srtt + Math.max(1 * MS, 4 * c.rttvar), -3);
  });

  it("Karn: an ACK for a retransmitted segment gives no RTT sample", async () => {
    const pair = createPair({
      impairments: { delayNs: 10 * MS },
      configA: { timestamps: false },
      configB: { timestamps: false },
    });
    const { client, server } = await establish(pair);
    const c = client.connection;
    const srttBefore = c.srtt;
    pair.link.impairments.down = true;
    await pair.world.run(client.write(text("lost once")));
    await pair.world.advance(150 * MS);
    pair.link.impairments.down = false;
    await pair.world.run(server.read());
    await pair.world.advance(2000 * MS);
    expect(pair.a.stats.retransmissionTimeouts).toBeGreaterThanOrEqual(1);
    expect(c.srtt).toBe(srttBefore);
  });
});

describe("tcp: fast retransmit and recovery", () => {
  for (const sack of [true, false]) {
    it(`three duplicate ACKs trigger a fast retransmit, no timeout (${sack ? "SACK" : "NewReno"})`, async () => {
      const pair = createPair({
        impairments: { delayNs: 5 * MS },
        configA: { sack },
        configB: { sack },
      });
      dropOnce(pair, [20]);
      const data = pattern(200_000);
      const { got } = await transfer(pair, data);
      expect(sameBytes(got, data)).toBe(true);
      expect(pair.a.stats.fastRetransmits).toBe(1);
      expect(pair.a.stats.retransmissionTimeouts).toBe(0);
      expect(pair.a.stats.retransmittedSegments).toBe(1);
      expect(pair.a.stats.sackRecoveries).toBe(sack ? 1 : 0);
    });

    it(`recovers several holes of one window in one episode (${sack ? "SACK, RFC 6675" : "NewReno partial ACKs, RFC 6582"})`, async () => {
      const pair = createPair({
        impairments: { delayNs: 5 * MS },
        configA: { sack },
        configB: { sack },
      });
      dropOnce(pair, [30, 34, 38, 45]);
      const data = pattern(300_000, 3);
      const { got } = await transfer(pair, data);
      expect(sameBytes(got, data)).toBe(true);
      expect(pair.a.stats.fastRetransmits).toBe(1);
      expect(pair.a.stats.retransmissionTimeouts).toBe(0);
      expect(pair.a.stats.retransmittedSegments).toBe(4);
    });
  }

  it("the receiver ACKs out-of-order data at once with SACK blocks, most recent first (RFC 2018)", async () => {
    const pair = createPair({ impairments: { delayNs: 5 * MS } });
    dropOnce(pair, [2, 5]);
    const log = capture(pair.link);
    const data = pattern(30_000);
    const { got } = await transfer(pair, data);
    expect(sameBytes(got, data)).toBe(true);
    const sacks = log.filter((x) => x.src === B && x.seg.sack !== undefined);
    expect(sacks.length).toBeGreaterThan(0);
    // The ACK right after the second hole reports the newest block first.
    const twoBlocks = sacks.find((x) => (x.seg.sack?.length ?? 0) >= 2)!;
    const [first, second] = twoBlocks.seg.sack!;
    expect(first![0] > second![0]).toBe(true);
  });
});

describe("tcp: congestion control", () => {
  it("NewReno halves on loss and adds one segment per window", () => {
    const cc = new NewReno();
    const s = { cwnd: 100 * 1000, ssthresh: 1e9, smss: 1000, srtt: 0 };
    cc.onCongestionEvent(s, 100 * 1000);
    expect(s.ssthresh).toBe(50 * 1000);
    s.cwnd = s.ssthresh;
    for (let i = 0; i < 50; i++) cc.onAck(s, 1000);
    expect(s.cwnd).toBe(51 * 1000);
    cc.onTimeout(s, 51 * 1000, 0, true);
    expect(s.cwnd).toBe(1000);
    expect(s.ssthresh).toBe(25500);
    // Slow start: at most 2 SMSS per ACK (RFC 3465, L = 2).
    cc.onAck(s, 10_000);
    expect(s.cwnd).toBe(3000);
  });

  it("CUBIC: β = 0.7, concave back to W_max, then convex growth", () => {
    const cc = new Cubic();
    const s = { cwnd: 100 * 1000, ssthresh: 1e9, smss: 1000, srtt: 100 * MS };
    cc.onCongestionEvent(s, 100 * 1000);
    expect(s.ssthresh).toBe(70 * 1000);
    s.cwnd = s.ssthresh;
    // K = cbrt(W_max (1 - β) / C) = cbrt(100 · 0.3 / 0.4) ≈ 4.22 s.
    const windowAt = (seconds: number) => {
      const c2 = new Cubic();
      const t = { cwnd: 100 * 1000, ssthresh: 1e9, smss: 1000, srtt: 100 * MS };
      c2.onCongestionEvent(t, 100 * 1000);
      t.cwnd = t.ssthresh;
      // ACKs arrive at the rate the window allows: a window per RTT (100 ms).
      for (let now = 0; now <= seconds * 1e9; now += 10 * MS) c2.onAck(t, t.cwnd / 10, now);
      return t.cwnd / 1000;
    };
    const early = windowAt(1);
    const atK = windowAt(4.2);
    const late = windowAt(8);
    expect(early).toBeGreaterThan(70);
    expect(early).toBeLessThan(100);
    expect(Math.abs(atK - 100)).toBeLessThan(8); // plateau near W_max
    expect(late).toBeGreaterThan(atK + 20); // convex region
    // After a second loss below the old maximum, fast convergence lowers W_max.
    cc.onTimeout(s, 70 * 1000, 0, true);
    expect(s.cwnd).toBe(1000);
  });

  for (const congestionControl of ["cubic", "newreno"] as const) {
    it(`${congestionControl} completes a 5 MB transfer through a lossy bottleneck`, async () => {
      const seed = `cc-${congestionControl}`;
      await withSeed(seed, async () => {
        const pair = createPair({
          seed,
          impairments: {
            delayNs: 10 * MS,
            slotNs: 1 * MS,
            loss: 0.02,
            rateBytesPerSecond: 20e6,
            queueLimit: 100,
          },
          configA: { congestionControl },
          configB: { congestionControl },
        });
        const data = pattern(5_000_000, 9);
        const { got, client } = await transfer(pair, data);
        expect(createHash("sha256").update(got).digest("hex")).toBe(
          createHash("sha256").update(data).digest("hex"),
        );
        expect(client.connection.cc.name).toBe(congestionControl);
        expect(pair.a.stats.fastRetransmits).toBeGreaterThan(0);
      });
    });
  }

  it("the initial window is 10 segments (RFC 6928)", async () => {
    const pair = createPair({ impairments: { delayNs: 50 * MS } });
    const { client } = await establish(pair);
    const log = capture(pair.link);
    client.write(pattern(100_000));
    await pair.world.advance(1 * MS);
    const burst = log.filter((x) => x.src === A && x.seg.payload.length > 0);
    expect(burst).toHaveLength(10);
    expect(burst.every((x) => x.seg.flags & ACK)).toBe(true);
  });
});

describe("tcp: sequence number wrap-around", () => {
  it("a transfer across 2^32 in both directions, with loss and SACK, arrives intact", async () => {
    const pair = createPair({
      seed: "wrap",
      impairments: { delayNs: 2 * MS, slotNs: 1 * MS, loss: 0.02 },
    });
    // ISNs just below the wrap on both sides.
    pair.a.engine.isn = () => 0xfffff000;
    pair.b.engine.isn = () => 0xffffe000;
    const up = pattern(1_000_000, 5);
    const down = pattern(700_000, 6);
    const { client, server } = await establish(pair);
    const [gotUp, gotDown] = await pair.world.run(
      Promise.all([
        readAll(server),
        readAll(client),
        (async () => {
          await client.write(up);
          await client.shutdown();
        })(),
        (async () => {
          await server.write(down);
          await server.shutdown();
        })(),
      ]),
    );
    expect(sameBytes(gotUp, up)).toBe(true);
    expect(sameBytes(gotDown, down)).toBe(true);
    expect(client.connection.sndUna).toBeLessThan(0x10000000); // it did wrap
    expect(pair.a.stats.retransmittedSegments).toBeGreaterThan(0);
  });
});
