// Flow control and timers: backpressure, zero window and persist probes,
// Nagle, delayed ACKs, keepalive, receive coalescing, idle memory.
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { ACK } from "../src/tcp/wire.js";
import { A, B, capture, createPair, establish, readAll, sameBytes, text } from "./tcp-link.js";

const MS = 1e6;
const S = 1e9;

describe("tcp: backpressure and zero window", () => {
  it("write() stays pending while the peer does not read, and resumes when it does", async () => {
    const pair = createPair({
      configA: { sendBufferSize: 64 * 1024 },
      configB: { receiveBufferSize: 64 * 1024 },
      impairments: { delayNs: 1 * MS },
    });
    const { client, server } = await establish(pair);
    const chunk = new Uint8Array(16 * 1024).fill(7);
    let written = 0;
    let blocked = false;
    const writer = (async () => {
      for (let i = 0; i < 64; i++) {
        await client.write(chunk);
        written += chunk.length;
      }
      await client.close();
    })();
    await pair.world.advance(2 * S);
    // At most the peer's receive buffer plus our send buffer (plus one chunk being copied) went in.
    expect(written).toBeLessThanOrEqual(64 * 1024 + 64 * 1024 + 16 * 1024);
    expect(written).toBeGreaterThanOrEqual(64 * 1024);
    blocked = written < 64 * chunk.length;
    expect(blocked).toBe(true);
    expect(server.connection.rcvAdv === server.connection.rcvNxt).toBe(true); // zero window
    const got = await pair.world.run(readAll(server));
    await pair.world.run(writer);
    expect(got.length).toBe(64 * chunk.length);
  });

  it("a zero window is probed with backoff and the transfer resumes after the window opens", async () => {
    const pair = createPair({
      configB: { receiveBufferSize: 32 * 1024 },
      impairments: { delayNs: 5 * MS },
    });
    const { client, server } = await establish(pair);
    const data = new Uint8Array(100_000).map((_, i) => i & 255);
    const writing = client.write(data);
    writing.catch(() => {});
    await pair.world.advance(1 * S);
    const log = capture(pair.link);
    const before = pair.a.stats.windowProbes;
    await pair.world.advance(60 * S);
    const probes = log.filter((x) => x.src === A && x.seg.payload.length === 0);
    expect(probes.length).toBeGreaterThanOrEqual(4);
    // Backoff: the gaps between probes grow.
    const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]!);
    expect(pair.a.stats.windowProbes - before).toBe(probes.length);
    // Each probe is answered with the (still zero) window; the connection is alive.
    expect(client.connection.stateName).toBe("ESTABLISHED");
    expect(pair.a.stats.timeouts).toBe(0);
    const got = await pair.world.run(
      (async () => {
        const chunks: Uint8Array[] = [];
        let n = 0;
        while (n < data.length) {
          const c = (await server.read())!;
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
      })(),
    );
    expect(sameBytes(got, data)).toBe(true);
    await pair.world.run(writing);
  });

  it("read() returns everything received so far in one chunk (receive coalescing)", async () => {
    const pair = createPair({ impairments: { delayNs: 5 * MS } });
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(new Uint8Array(100_000)));
    await pair.world.advance(500 * MS);
    const chunk = await server.read();
    expect(chunk!.length).toBe(100_000);
  });
});

describe("tcp: Nagle and delayed ACKs", () => {
  const smallWrites = async (noDelay: boolean) => {
    const pair = createPair({ impairments: { delayNs: 20 * MS } });
    const { client, server } = await establish(pair, 80, {}, { noDelay });
    const log = capture(pair.link);
    for (let i = 0; i < 10; i++) await client.write(text("x"));
    await pair.world.advance(1 * MS);
    const immediately = log.filter((x) => x.src === A && x.seg.payload.length > 0).length;
    await pair.world.advance(1 * S);
    const total = log.filter((x) => x.src === A && x.seg.payload.length > 0).length;
    const got = await pair.world.run(server.read());
    return { immediately, total, got: got!.length };
  };

  it("with Nagle, one small segment is in flight; the rest waits and coalesces", async () => {
    const r = await smallWrites(false);
    expect(r.immediately).toBe(1);
    expect(r.total).toBe(2); // the first byte, then the other nine together
    expect(r.got).toBe(10);
  });

  it("with noDelay, every small write goes out at once", async () => {
    const r = await smallWrites(true);
    expect(r.immediately).toBe(10);
    expect(r.got).toBe(10);
  });

  it("setNoDelay(true) flushes what Nagle held back", async () => {
    const pair = createPair({ impairments: { delayNs: 20 * MS } });
    const { client } = await establish(pair);
    const log = capture(pair.link);
    await client.write(text("a"));
    await client.write(text("b"));
    await pair.world.advance(1 * MS);
    expect(log.filter((x) => x.src === A && x.seg.payload.length > 0)).toHaveLength(1);
    client.setNoDelay(true);
    await pair.world.advance(1 * MS);
    expect(log.filter((x) => x.src === A && x.seg.payload.length > 0)).toHaveLength(2);
  });

  it("a lone segment is ACKed after the delayed-ACK timeout; two full segments at once", async () => {
    const pair = createPair({ configB: { delayedAckNs: 40 * MS } });
    const { client } = await establish(pair);
    const log = capture(pair.link);
    await client.write(text("one"));
    await pair.world.advance(39 * MS);
    expect(log.filter((x) => x.src === B)).toHaveLength(0);
    await pair.world.advance(2 * MS);
    const ack = log.filter((x) => x.src === B);
    expect(ack).toHaveLength(1);
    expect(ack[0]!.seg.flags).toBe(ACK);
    expect(Math.round((ack[0]!.at - log[0]!.at) / MS)).toBe(40);
    expect(pair.b.stats.delayedAcks).toBe(1);
    // Two full-sized segments: the second is ACKed immediately.
    log.length = 0;
    await client.write(new Uint8Array(2 * 1448));
    await pair.world.advance(0);
    const acks = log.filter((x) => x.src === B);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.at).toBe(log[0]!.at);
  });

  it("segments that arrive together are ACKed together: at the end of the batch, and every 64 KiB", async () => {
    // One flight of 100 full segments, delivered in the same instant (like a GRO batch).
    const pair = createPair({
      configA: { initialWindow: 100 },
      impairments: { delayNs: 10 * MS, slotNs: 10 * MS },
    });
    const { client, server } = await establish(pair);
    // A first exchange opens B's window beyond the 64 KiB a SYN can announce.
    await client.write(text("hello"));
    await pair.world.run(server.read());
    await pair.world.advance(25 * MS);
    const log = capture(pair.link);
    const data = new Uint8Array(100 * 1448).map((_, i) => i * 7);
    void client.write(data);
    await pair.world.advance(35 * MS);
    const sent = log.filter((x) => x.src === A && x.seg.payload.length > 0);
    expect(sent).toHaveLength(100);
    const acks = log.filter((x) => x.src === B);
    // 64 KiB is 45.3 segments: ACKs after segments 46 and 92, and one for the last 8 at the end.
    expect(acks.map((x) => x.seg.ack - sent[0]!.seg.seq)).toEqual([
      46 * 1448,
      92 * 1448,
      100 * 1448,
    ]);
    expect(new Set(acks.map((x) => x.at)).size).toBe(1);
    expect(sameBytes((await pair.world.run(server.read()))!, data)).toBe(true);
  });
});

describe("tcp: keepalive", () => {
  it("probes an idle connection; a live peer answers and nothing happens", async () => {
    const pair = createPair({ configA: { keepAliveIntervalNs: 10 * S } });
    const { client } = await establish(pair);
    client.setKeepAlive(true, 60 * S);
    const log = capture(pair.link);
    await pair.world.advance(59 * S);
    expect(log).toHaveLength(0);
    await pair.world.advance(2 * S);
    expect(log.filter((x) => x.src === A)).toHaveLength(1); // the probe
    expect(log.filter((x) => x.src === B)).toHaveLength(1); // its answer
    await pair.world.advance(300 * S);
    expect(client.connection.stateName).toBe("ESTABLISHED");
    expect(pair.a.stats.keepAliveProbes).toBeGreaterThanOrEqual(5);
  });

  it("gives up after keepAliveProbes unanswered probes with ATOLL_TCP_TIMEOUT", async () => {
    const pair = createPair({
      configA: { keepAliveIntervalNs: 10 * S, keepAliveProbes: 3 },
    });
    const { client } = await establish(pair);
    client.setKeepAlive(true, 60 * S);
    const pending = client.read();
    pending.catch(() => {});
    pair.link.impairments.down = true;
    await expect(pair.world.run(pending)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_TIMEOUT"),
    );
    // 60 s idle, then 3 probes 10 s apart, then 10 s more.
    expect(pair.world.now()).toBeGreaterThanOrEqual(90 * S);
    expect(pair.world.now()).toBeLessThan(92 * S);
    expect(pair.a.stats.keepAliveProbes).toBe(3);
  });

  it("setKeepAlive(false) stops the probes", async () => {
    const pair = createPair();
    const { client } = await establish(pair);
    client.setKeepAlive(true, 10 * S);
    client.setKeepAlive(false);
    const log = capture(pair.link);
    await pair.world.advance(3600 * S);
    expect(log).toHaveLength(0);
    expect(pair.world.pendingTimers).toBe(0);
  });
});

describe("tcp: idle connections", () => {
  it("an idle connection owns no buffers and no timer", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(new Uint8Array(50_000)));
    // A read returns what has arrived so far: read until all of it has.
    for (let got = 0; got < 50_000; )
      got += (await pair.world.run(server.read()))?.length ?? 50_000;
    await pair.world.advance(1 * S);
    for (const c of [client.connection, server.connection]) {
      expect(c.sendRing.allocated).toBe(false);
      expect(c.recvRing.allocated).toBe(false);
    }
    expect(pair.world.pendingTimers).toBe(0);
  });

  it("1,000 concurrent connections each echo their own data", async () => {
    const pair = createPair({ impairments: { delayNs: 1 * MS, slotNs: 1 * MS } });
    pair.b.tcp.listen(
      7,
      async (flow) => {
        const data = await readAll(flow as never);
        await flow.write(data);
        await flow.close();
      },
      { backlog: 1000 }, // all 1,000 handshakes complete in the same instant
    );
    const one = async (i: number) => {
      const flow = await pair.a.tcp.connect("10.0.0.2", 7);
      const payload = text(`connection ${i} `.repeat((i % 50) + 1));
      await flow.write(payload);
      await flow.shutdown();
      const back = await readAll(flow as never);
      await flow.close();
      return sameBytes(back, payload);
    };
    const results = await pair.world.run(
      Promise.all(Array.from({ length: 1000 }, (_, i) => one(i))),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(pair.a.stats.activeOpens).toBe(1000);
    expect(pair.b.stats.passiveOpens).toBe(1000);
  });
});
