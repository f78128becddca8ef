// Opening connections: active, passive and simultaneous open, refusal,
// handshake timeouts, unreachable destinations, options negotiation, ISNs and
// ephemeral ports.
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { ACK, RST, SYN } from "../src/tcp/wire.js";
import { A, B, capture, createPair, establish, inject, text, untext } from "./tcp-link.js";

describe("tcp: opening", () => {
  it("three-way handshake: SYN, SYN-ACK, ACK, then both ends ESTABLISHED", async () => {
    const pair = createPair();
    const log = capture(pair.link);
    const { client, server } = await establish(pair);
    expect(client.state).toBe("ESTABLISHED");
    expect(server.state).toBe("ESTABLISHED");
    const [syn, synAck, ack] = log;
    expect(syn!.seg.flags).toBe(SYN);
    expect(synAck!.seg.flags).toBe(SYN | ACK);
    expect(synAck!.seg.ack).toBe((syn!.seg.seq + 1) >>> 0);
    expect(ack!.seg.flags & (SYN | ACK)).toBe(ACK);
    expect(ack!.seg.ack).toBe((synAck!.seg.seq + 1) >>> 0);
    expect(client.remoteAddress).toBe("10.0.0.2");
    expect(server.remoteAddress).toBe("10.0.0.1");
    expect(server.localPort).toBe(80);
    expect(client.remotePort).toBe(80);
    expect(server.remotePort).toBe(client.localPort);
    expect(pair.a.stats.activeOpens).toBe(1);
    expect(pair.b.stats.passiveOpens).toBe(1);
    expect(pair.a.stats.currentConnections).toBe(1);
  });

  it("a closed port answers RST and connect rejects with ATOLL_TCP_REFUSED", async () => {
    const pair = createPair();
    const log = capture(pair.link);
    const attempt = pair.a.tcp.connect("10.0.0.2", 81);
    await expect(pair.world.run(attempt)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_REFUSED"),
    );
    expect(log[1]!.seg.flags).toBe(RST | ACK);
    expect(pair.a.engine.connectionCount).toBe(0);
  });

  it("connect gives up after the SYN retries with ATOLL_TCP_TIMEOUT, backing off each time", async () => {
    const pair = createPair({ configA: { maxSynRetransmissions: 3, initialRtoNs: 1e9 } });
    pair.link.impairments.down = true;
    const log = capture(pair.link);
    const attempt = pair.a.tcp.connect("10.0.0.2", 80, { timeoutNs: 600e9 });
    await expect(pair.world.run(attempt)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_TIMEOUT"),
    );
    const times = log.map((c) => c.at / 1e9);
    expect(times).toEqual([0, 1, 3, 7]); // 1 s, 2 s, 4 s
    expect(pair.world.now() / 1e9).toBe(15); // the last wait, 8 s, then give up
    expect(pair.a.stats.attemptFails).toBe(1);
  });

  it("connect honours timeoutNs", async () => {
    const pair = createPair();
    pair.link.impairments.down = true;
    const attempt = pair.a.tcp.connect("10.0.0.2", 80, { timeoutNs: 2.5e9 });
    await expect(pair.world.run(attempt)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_TIMEOUT"),
    );
    expect(pair.world.now()).toBe(2.5e9);
  });

  it("connect to an address without a route rejects with ATOLL_NET_UNREACHABLE", async () => {
    const pair = createPair();
    pair.lowerA.unreachable.add(B);
    await expect(pair.a.tcp.connect("10.0.0.2", 80)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_NET_UNREACHABLE"),
    );
    await expect(pair.a.tcp.connect("not.an.ip", 80)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_NET_UNREACHABLE"),
    );
  });

  it("an AbortSignal cancels a pending connect", async () => {
    const pair = createPair();
    pair.link.impairments.down = true;
    const controller = new AbortController();
    const attempt = pair.a.tcp.connect("10.0.0.2", 80, { signal: controller.signal });
    pair.world.timers.setTimer(500e6, () => controller.abort());
    await expect(pair.world.run(attempt)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_ABORTED"),
    );
    expect(pair.a.engine.connectionCount).toBe(0);
  });

  it("simultaneous open: both SYN-SENT, both SYN-RECEIVED, both ESTABLISHED (RFC 9293 figure 8)", async () => {
    const pair = createPair({ impairments: { delayNs: 5e6 } });
    const log = capture(pair.link);
    const left = pair.a.tcp.connect("10.0.0.2", 5000, { localPort: 6000 });
    const right = pair.b.tcp.connect("10.0.0.1", 6000, { localPort: 5000 });
    const [l, r] = await pair.world.run(Promise.all([left, right]));
    expect(l.localPort).toBe(6000);
    expect(r.localPort).toBe(5000);
    // Each side sent SYN then SYN-ACK (with its original ISN); no RST.
    const flags = log.map((c) => c.seg.flags);
    expect(flags.filter((f) => f === SYN)).toHaveLength(2);
    expect(flags.filter((f) => f === (SYN | ACK))).toHaveLength(2);
    expect(flags.some((f) => f & RST)).toBe(false);
    await pair.world.run(l.write(text("ping")));
    expect(untext(await pair.world.run(r.read()))).toBe("ping");
    await pair.world.run(r.write(text("pong")));
    expect(untext(await pair.world.run(l.read()))).toBe("pong");
  });

  it("listening twice on a port throws ATOLL_ADDRESS_IN_USE; unlisten frees it", () => {
    const pair = createPair();
    pair.b.tcp.listen(80, () => {});
    expect(() => pair.b.tcp.listen(80, () => {})).toThrow(
      expect.objectContaining({ code: "ATOLL_ADDRESS_IN_USE" }),
    );
    pair.b.tcp.unlisten(80);
    pair.b.tcp.listen(80, () => {});
  });

  it("a local port already used towards the same peer is refused with ATOLL_ADDRESS_IN_USE", async () => {
    const pair = createPair();
    await establish(pair, 80, {}, { localPort: 7000 });
    await expect(pair.a.tcp.connect("10.0.0.2", 80, { localPort: 7000 })).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_ADDRESS_IN_USE"),
    );
  });
});

describe("tcp: options negotiation", () => {
  const handshake = async (configA = {}, configB = {}) => {
    const pair = createPair({ configA, configB });
    const log = capture(pair.link);
    const { client, server } = await establish(pair);
    return { pair, log, client: client.connection, server: server.connection };
  };

  it("both sides offer MSS, window scale, SACK-permitted and timestamps; all are on", async () => {
    const { log, client, server } = await handshake();
    const syn = log[0]!.seg;
    const synAck = log[1]!.seg;
    expect(syn.mss).toBe(1460);
    expect(syn.wscale).toBeGreaterThan(0);
    expect(syn.sackPermitted).toBe(true);
    expect(syn.timestamp?.tsVal).toBeGreaterThanOrEqual(0);
    expect(syn.timestamp?.tsEcr).toBe(0);
    expect(synAck.mss).toBe(1460);
    expect(synAck.sackPermitted).toBe(true);
    expect(synAck.timestamp?.tsEcr).toBe(syn.timestamp?.tsVal);
    for (const c of [client, server]) {
      expect(c.sackOk).toBe(true);
      expect(c.tsOk).toBe(true);
      expect(c.smss).toBe(1460 - 12); // timestamps take 12 bytes of every segment
    }
    expect(client.sndShift).toBe(synAck.wscale);
    expect(server.sndShift).toBe(syn.wscale);
    // Every later segment carries a timestamp echoing the peer's.
    for (const c of log.slice(2)) expect(c.seg.timestamp).toBeDefined();
  });

  it("the MSS is the smaller of both ends (and 536 when the peer sends none)", async () => {
    const { client, server } = await handshake({ mss: 1000 }, {});
    expect(client.smss).toBe(1000 - 12);
    expect(server.smss).toBe(1000 - 12);
  });

  it("a peer without window scaling turns it off for both directions", async () => {
    const { log, client, server } = await handshake({}, { windowScaling: false });
    expect(log[0]!.seg.wscale).toBeDefined();
    expect(log[1]!.seg.wscale).toBeUndefined();
    expect(client.sndShift).toBe(0);
    expect(client.rcvShift).toBe(0);
    expect(server.sndShift).toBe(0);
    expect(server.rcvShift).toBe(0);
    expect(log[2]!.seg.window).toBeLessThanOrEqual(65535);
  });

  it("a peer without SACK or timestamps: neither is used", async () => {
    const { log, client, server } = await handshake({ sack: false }, { timestamps: false });
    expect(log[0]!.seg.sackPermitted).toBeUndefined();
    expect(log[1]!.seg.timestamp).toBeUndefined();
    for (const c of [client, server]) {
      expect(c.sackOk).toBe(false);
      expect(c.tsOk).toBe(false);
      expect(c.smss).toBe(1460);
    }
    for (const c of log.slice(2)) expect(c.seg.timestamp).toBeUndefined();
  });

  it("a SYN without any option gets MSS 536 and a plain connection", async () => {
    const pair = createPair();
    const log = capture(pair.link);
    pair.b.tcp.listen(80, () => {});
    pair.link.filter = (_src, dst) => dst === A; // nobody at A answers the SYN-ACK
    inject(pair, A, B, { srcPort: 40000, dstPort: 80, seq: 1000, flags: SYN, window: 8192 });
    await pair.world.advance(1e6);
    const synAck = log.find((c) => c.seg.flags === (SYN | ACK))!.seg;
    expect(synAck.ack).toBe(1001);
    expect(synAck.wscale).toBeUndefined();
    expect(synAck.sackPermitted).toBeUndefined();
    expect(synAck.timestamp).toBeUndefined();
    const conn = [...pair.b.engine.connections()][0]!;
    expect(conn.smss).toBe(536);
    expect(conn.sndWnd).toBe(8192);
  });
});

describe("tcp: initial sequence numbers and ports", () => {
  it("ISNs differ per four-tuple and advance with the clock (RFC 6528)", async () => {
    const pair = createPair();
    const e = pair.a.engine;
    const i1 = e.isn(A, 40000, B, 80);
    const i2 = e.isn(A, 40001, B, 80);
    expect(i1).not.toBe(i2);
    await pair.world.advance(4e6); // 4 ms = 1000 ticks of 4 µs
    expect((e.isn(A, 40000, B, 80) - i1) >>> 0).toBe(1000);
  });

  it("ephemeral ports come from the Random device within 49152–65535, all distinct", async () => {
    const pair = createPair();
    pair.b.tcp.listen(80, () => {});
    const flows = await pair.world.run(
      Promise.all(Array.from({ length: 50 }, () => pair.a.tcp.connect("10.0.0.2", 80))),
    );
    const ports = flows.map((f) => f.localPort);
    expect(new Set(ports).size).toBe(50);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(49152);
      expect(p).toBeLessThanOrEqual(65535);
    }
    // Not a sequence: random starting points.
    const sorted = [...ports].sort((a, b) => a - b);
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThan(1000);
  });

  it("runs out of ephemeral ports with ATOLL_ADDRESS_IN_USE", async () => {
    const pair = createPair({ configA: { ephemeralPortMin: 50000, ephemeralPortMax: 50003 } });
    pair.b.tcp.listen(80, () => {});
    await pair.world.run(
      Promise.all(Array.from({ length: 4 }, () => pair.a.tcp.connect("10.0.0.2", 80))),
    );
    await expect(pair.a.tcp.connect("10.0.0.2", 80)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_ADDRESS_IN_USE"),
    );
  });
});
