// SYN floods: the half-open queue stays bounded, SYN cookies answer the rest,
// and a legitimate client still connects (with its options recovered from the
// cookie's timestamp echo).
import { SeededRandom } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import type { TcpFlow } from "../src/tcp/flow.js";
import { SYN } from "../src/tcp/wire.js";
import { B, createPair, inject, type Pair, readAll, sameBytes, text, untext } from "./tcp-link.js";

const MS = 1e6;

function flood(pair: Pair, count: number, seed: string): void {
  const r = new SeededRandom(seed);
  for (let i = 0; i < count; i++) {
    // Spoofed sources in 172.16/12: nobody answers the SYN-ACKs.
    const src = (0xac100000 | r.int(0x100000)) >>> 0;
    inject(pair, src, B, {
      srcPort: 1024 + r.int(60000),
      dstPort: 80,
      seq: r.uint32(),
      flags: SYN,
      window: 65535,
      mss: 1460,
      ...(i % 2 === 0
        ? { wscale: 7, sackPermitted: true, timestamp: { tsVal: r.uint32(), tsEcr: 0 } }
        : {}),
    });
  }
}

describe("tcp: SYN flood", () => {
  it("10,000 spoofed SYNs leave memory bounded and a real client still connects", async () => {
    const pair = createPair({ configB: { synBacklog: 128 } });
    const echoed: string[] = [];
    const accepted: Array<{
      fromCookie: boolean;
      sackOk: boolean;
      tsOk: boolean;
      sndShift: number;
    }> = [];
    pair.b.tcp.listen(80, async (flow) => {
      const c = (flow as TcpFlow).connection;
      accepted.push({
        fromCookie: c.fromCookie,
        sackOk: c.sackOk,
        tsOk: c.tsOk,
        sndShift: c.sndShift,
      });
      const data = await readAll(flow as never);
      echoed.push(untext(data)!);
      await flow.write(data);
      await flow.close();
    });
    const heapBefore = process.memoryUsage().heapUsed;
    flood(pair, 5_000, "flood-1");
    // A legitimate connection in the middle of the flood.
    const attempt = pair.a.tcp.connect("10.0.0.2", 80);
    flood(pair, 5_000, "flood-2");
    expect(pair.b.engine.connectionCount).toBeLessThanOrEqual(128);
    expect(pair.b.stats.halfOpen).toBeLessThanOrEqual(128);
    expect(pair.b.stats.synCookiesSent).toBeGreaterThanOrEqual(10_000 - 128);
    expect(pair.b.engine.timers.size).toBeLessThanOrEqual(129);
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);

    const flow = await pair.world.run(attempt);
    await pair.world.run(flow.write(text("through the flood")));
    await pair.world.run(flow.shutdown());
    const back = await pair.world.run(readAll(flow as never));
    expect(untext(back)).toBe("through the flood");
    expect(echoed).toEqual(["through the flood"]);
    expect(pair.b.stats.synCookiesAccepted).toBe(1);
    // The options survived the cookie: window scaling, SACK and timestamps are on.
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.fromCookie).toBe(true);
    expect(accepted[0]!.sackOk).toBe(true);
    expect(accepted[0]!.tsOk).toBe(true);
    expect(accepted[0]!.sndShift).toBe((flow as TcpFlow).connection.rcvShift);
    expect(accepted[0]!.sndShift).toBeGreaterThan(0);

    // The half-open entries time out (5 SYN-ACK retransmissions) and the table empties.
    await pair.world.advance(200_000 * MS);
    expect(pair.b.stats.halfOpen).toBe(0);
    expect(pair.b.engine.connectionCount).toBe(0);
  });

  it("a connection established on a cookie moves bulk data with window scaling and SACK", async () => {
    const pair = createPair({
      configB: { synBacklog: 1 },
      impairments: { delayNs: 2 * MS, loss: 0.01, slotNs: 1 * MS },
      seed: "cookie-bulk",
    });
    let received: Uint8Array | undefined;
    pair.b.tcp.listen(80, async (flow) => {
      received = await readAll(flow as never);
      await flow.close();
    });
    flood(pair, 10, "occupy"); // the one half-open slot is taken
    const flow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80));
    const data = new Uint8Array(2_000_000).map((_, i) => (i * 7) & 255);
    await pair.world.run(
      (async () => {
        await flow.write(data);
        await flow.close();
      })(),
    );
    await pair.world.run(flow.closed);
    for (let i = 0; i < 100 && received === undefined; i++) await pair.world.advance(10 * MS);
    expect(sameBytes(received!, data)).toBe(true);
    expect(pair.b.stats.synCookiesAccepted).toBe(1);
  });

  it("forged cookie ACKs are rejected with RST and create nothing", async () => {
    const pair = createPair({ configB: { synBacklog: 1 } });
    pair.b.tcp.listen(80, () => {});
    flood(pair, 10, "prime"); // cookies are in use
    const r = new SeededRandom("forge");
    for (let i = 0; i < 5000; i++) {
      inject(pair, (0xac100000 | r.int(0x100000)) >>> 0, B, {
        srcPort: 1024 + r.int(60000),
        dstPort: 80,
        seq: r.uint32(),
        ack: r.uint32(),
        flags: 0x10,
      });
    }
    expect(pair.b.stats.synCookiesAccepted).toBe(0);
    expect(pair.b.stats.synCookiesRejected).toBe(5000);
    expect(pair.b.engine.connectionCount).toBe(1);
  });

  it("with SYN cookies off, SYNs beyond the backlog are dropped and the queue stays bounded", async () => {
    const pair = createPair({ configB: { synBacklog: 64, synCookies: false } });
    pair.b.tcp.listen(80, () => {});
    flood(pair, 10_000, "no-cookies");
    expect(pair.b.engine.connectionCount).toBe(64);
    expect(pair.b.stats.synDropped).toBe(10_000 - 64);
    // Once the half-open connections give up, a client gets through.
    await pair.world.advance(100_000 * MS);
    const flow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80));
    expect(flow.remotePort).toBe(80);
  });
});
