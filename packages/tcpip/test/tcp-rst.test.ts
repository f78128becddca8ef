// RFC 5961: blind reset, SYN and data injection. Segments are injected into
// the client (A) as if from the server (B), with sequence numbers taken from
// the connection's state.
import { isAtollError } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import { ACK, PSH, RST, SYN } from "../src/tcp/wire.js";
import { A, B, capture, createPair, establish, inject, text, untext } from "./tcp-link.js";

const noTs = { timestamps: false } as const;

async function setup(configA = {}) {
  const pair = createPair({ configA: { ...noTs, ...configA }, configB: noTs });
  const { client, server } = await establish(pair);
  // Some traffic so that windows and sequence numbers are not at their initial values.
  await pair.world.run(server.write(text("hello")));
  expect(untext(await pair.world.run(client.read()))).toBe("hello");
  await pair.world.advance(100e6);
  const c = client.connection;
  const from = (fields: Parameters<typeof inject>[3]) =>
    inject(pair, B, A, { srcPort: c.remotePort, dstPort: c.localPort, ...fields });
  return { pair, client, server, c, from };
}

describe("tcp: RST handling (RFC 5961 §3)", () => {
  it("an RST exactly at RCV.NXT resets the connection", async () => {
    const { pair, client, c, from } = await setup();
    from({ seq: c.rcvNxt, flags: RST });
    expect(c.stateName).toBe("CLOSED");
    await expect(pair.world.run(client.read())).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
  });

  it("an in-window RST that is not exact draws a challenge ACK; the connection survives", async () => {
    const { pair, client, server, c, from } = await setup();
    const log = capture(pair.link);
    from({ seq: (c.rcvNxt + 1000) >>> 0, flags: RST });
    expect(c.stateName).toBe("ESTABLISHED");
    const challenge = log.find((x) => x.src === A)!;
    expect(challenge.seg.flags).toBe(ACK);
    expect(challenge.seg.seq).toBe(c.sndNxt);
    expect(challenge.seg.ack).toBe(c.rcvNxt);
    expect(pair.a.stats.challengeAcks).toBe(1);
    // The connection still works.
    await pair.world.run(server.write(text("still here")));
    expect(untext(await pair.world.run(client.read()))).toBe("still here");
  });

  it("the real peer answers a challenge ACK with an exact RST, which is accepted", async () => {
    const { pair, client, c, from } = await setup();
    const log = capture(pair.link);
    // The peer (B) has lost its state: its RST is in window but not exact.
    pair.link.filter = (src) => src === A; // catch the challenge ACK before it reaches B
    from({ seq: (c.rcvNxt + 5) >>> 0, flags: RST });
    const challenge = log.find((x) => x.src === A)!;
    // B's answer to an ACK for an unknown connection: <SEQ=SEG.ACK><CTL=RST>.
    from({ seq: challenge.seg.ack, flags: RST });
    expect(c.stateName).toBe("CLOSED");
    await expect(pair.world.run(client.read())).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
  });

  it("an RST outside the window is dropped without an answer", async () => {
    const { pair, c, from } = await setup();
    const log = capture(pair.link);
    from({ seq: (c.rcvNxt + 0x40000000) >>> 0, flags: RST });
    from({ seq: (c.rcvNxt - 1) >>> 0, flags: RST });
    expect(c.stateName).toBe("ESTABLISHED");
    expect(log).toHaveLength(0);
  });

  it("10,000 blind RSTs with random sequence numbers do not reset the connection", async () => {
    const { pair, client, server, c, from } = await setup({ challengeAckLimit: 1_000_000 });
    const r = new SeededRandom("blind");
    for (let i = 0; i < 10_000; i++) {
      const seq = r.uint32();
      if (seq === c.rcvNxt) continue;
      from({ seq, flags: RST });
    }
    expect(c.stateName).toBe("ESTABLISHED");
    await pair.world.run(server.write(text("ok")));
    expect(untext(await pair.world.run(client.read()))).toBe("ok");
  });

  it("in SYN-SENT an RST counts only when it acknowledges our SYN", async () => {
    const pair = createPair({ configA: noTs });
    pair.link.filter = (src) => src === A; // the SYN goes nowhere
    const attempt = pair.a.tcp.connect("10.0.0.2", 80);
    attempt.catch(() => {});
    await pair.world.advance(1e6);
    const c = [...pair.a.engine.connections()][0]!;
    const base = { srcPort: 80, dstPort: c.localPort };
    inject(pair, B, A, { ...base, seq: 0, flags: RST }); // no ACK: ignored
    inject(pair, B, A, { ...base, seq: 0, ack: (c.iss + 7) >>> 0, flags: RST | ACK }); // wrong ACK
    expect(c.stateName).toBe("SYN-SENT");
    inject(pair, B, A, { ...base, seq: 0, ack: (c.iss + 1) >>> 0, flags: RST | ACK });
    await expect(attempt).rejects.toSatisfy((e) => isAtollError(e, "ATOLL_TCP_REFUSED"));
  });
});

describe("tcp: SYN in a synchronized state (RFC 5961 §4)", () => {
  it("an in-window SYN draws a challenge ACK and never resets", async () => {
    const { pair, c, from } = await setup();
    const log = capture(pair.link);
    from({ seq: (c.rcvNxt + 10) >>> 0, flags: SYN });
    expect(c.stateName).toBe("ESTABLISHED");
    expect(log).toHaveLength(1);
    expect(log[0]!.seg.flags).toBe(ACK);
    expect(log[0]!.seg.ack).toBe(c.rcvNxt);
    expect(pair.a.stats.resetsSent).toBe(0);
  });

  it("a SYN at RCV.NXT (the 'exact' case) is also only challenged", async () => {
    const { pair, c, from } = await setup();
    from({ seq: c.rcvNxt, flags: SYN });
    expect(c.stateName).toBe("ESTABLISHED");
    expect(pair.a.stats.challengeAcks).toBe(1);
  });

  it("an out-of-window SYN gets an ACK and changes nothing", async () => {
    const { pair, c, from } = await setup();
    const log = capture(pair.link);
    from({ seq: (c.rcvNxt + 0x7000000) >>> 0, flags: SYN });
    expect(c.stateName).toBe("ESTABLISHED");
    expect(log[0]!.seg.flags).toBe(ACK);
  });
});

describe("tcp: ACK validation (RFC 5961 §5)", () => {
  it("data whose ACK acknowledges what we never sent is dropped with a challenge ACK", async () => {
    const { pair, client, c, from } = await setup();
    const log = capture(pair.link);
    from({
      seq: c.rcvNxt,
      ack: (c.sndNxt + 1000) >>> 0,
      flags: ACK | PSH,
      payload: text("injected"),
    });
    expect(log[0]!.seg.flags).toBe(ACK);
    expect(client.connection.readable).toBe(0);
    expect(c.stateName).toBe("ESTABLISHED");
  });

  it("data whose ACK is older than SND.UNA − MAX.SND.WND is dropped with a challenge ACK", async () => {
    const { pair, client, c, from } = await setup();
    from({
      seq: c.rcvNxt,
      ack: (c.sndUna - c.maxSndWnd - 10) >>> 0,
      flags: ACK | PSH,
      payload: text("injected"),
    });
    expect(pair.a.stats.challengeAcks).toBe(1);
    expect(client.connection.readable).toBe(0);
  });

  it("data with an old but acceptable ACK is accepted", async () => {
    const { pair, client, c, from } = await setup();
    from({
      seq: c.rcvNxt,
      ack: (c.sndUna - 1) >>> 0,
      flags: ACK | PSH,
      payload: text("fine"),
    });
    expect(untext(await pair.world.run(client.read()))).toBe("fine");
  });
});

describe("tcp: challenge ACK rate limit (RFC 5961 §7)", () => {
  it("at most challengeAckLimit challenge ACKs per second", async () => {
    const { pair, c, from } = await setup({ challengeAckLimit: 100 });
    const log = capture(pair.link);
    for (let i = 0; i < 2000; i++) from({ seq: (c.rcvNxt + 1 + i) >>> 0, flags: RST });
    expect(log.filter((x) => x.src === A)).toHaveLength(100);
    expect(pair.a.stats.challengeAcksSuppressed).toBe(1900);
    await pair.world.advance(1e9);
    from({ seq: (c.rcvNxt + 1) >>> 0, flags: RST });
    expect(log.filter((x) => x.src === A)).toHaveLength(101);
  });
});

describe("tcp: timestamps and PAWS (RFC 7323)", () => {
  it("a segment with an older timestamp is dropped and acknowledged (PAWS)", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(server.write(text("a")));
    await pair.world.run(client.read());
    await pair.world.advance(100e6);
    const c = client.connection;
    const log = capture(pair.link);
    inject(pair, B, A, {
      srcPort: c.remotePort,
      dstPort: c.localPort,
      seq: c.rcvNxt,
      ack: c.sndUna,
      flags: ACK,
      payload: text("old duplicate"),
      timestamp: { tsVal: (c.tsRecent - 1000) >>> 0, tsEcr: 0 },
    });
    expect(c.readable).toBe(0);
    expect(pair.a.stats.rxPawsRejected).toBe(1);
    expect(log[0]!.seg.flags).toBe(ACK);
    // A current timestamp is accepted.
    inject(pair, B, A, {
      srcPort: c.remotePort,
      dstPort: c.localPort,
      seq: c.rcvNxt,
      ack: c.sndUna,
      flags: ACK,
      payload: text("fresh"),
      timestamp: { tsVal: (c.tsRecent + 1) >>> 0, tsEcr: 0 },
    });
    expect(untext(await pair.world.run(client.read()))).toBe("fresh");
  });

  it("once negotiated, a non-RST segment without a timestamp is dropped", async () => {
    const pair = createPair();
    const { client } = await establish(pair);
    const c = client.connection;
    inject(pair, B, A, {
      srcPort: c.remotePort,
      dstPort: c.localPort,
      seq: c.rcvNxt,
      ack: c.sndUna,
      flags: ACK,
      payload: text("no ts"),
    });
    expect(c.readable).toBe(0);
    expect(pair.a.stats.rxMissingTimestamp).toBe(1);
  });
});
