// ICMP errors for TCP (RFC 5927): the quoted sequence number must be in
// flight; hard errors abort a handshake, soft errors are remembered, and
// "fragmentation needed" lowers the segment size.
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { emitSegment, SYN } from "../src/tcp/wire.js";
import { A, B, capture, createPair, establish } from "./tcp-link.js";

const quote = (srcPort: number, dstPort: number, seq: number) =>
  emitSegment(
    { srcPort, dstPort, seq, ack: 0, flags: SYN, window: 0, urgent: 0, payload: new Uint8Array(0) },
    A,
    B,
  ).subarray(0, 8);

async function synSent() {
  const pair = createPair();
  pair.link.impairments.down = true;
  const attempt = pair.a.tcp.connect("10.0.0.2", 80, { timeoutNs: 10e9 });
  attempt.catch(() => {});
  await pair.world.advance(1e6);
  const c = [...pair.a.engine.connections()][0]!;
  return { pair, attempt, c };
}

describe("tcp: ICMP errors (RFC 5927)", () => {
  it("port unreachable for our SYN aborts the handshake with ATOLL_TCP_REFUSED", async () => {
    const { pair, attempt, c } = await synSent();
    pair.a.upper.icmpError!(A, B, quote(c.localPort, 80, c.iss), "port-unreachable");
    await expect(attempt).rejects.toSatisfy((e) => isAtollError(e, "ATOLL_TCP_REFUSED"));
  });

  it("an error quoting a sequence number that is not in flight is ignored", async () => {
    const { pair, c } = await synSent();
    pair.a.upper.icmpError!(
      A,
      B,
      quote(c.localPort, 80, (c.iss + 12345) >>> 0),
      "port-unreachable",
    );
    pair.a.upper.icmpError!(A, B, quote(c.localPort, 81, c.iss), "port-unreachable");
    pair.a.upper.icmpError!(A, B, new Uint8Array(4), "port-unreachable");
    expect(c.stateName).toBe("SYN-SENT");
    expect(pair.a.stats.icmpIgnored).toBe(3);
  });

  it("host unreachable is a soft error: the handshake goes on, and times out with ATOLL_NET_UNREACHABLE", async () => {
    const { pair, attempt, c } = await synSent();
    pair.a.upper.icmpError!(A, B, quote(c.localPort, 80, c.iss), "unreachable");
    expect(c.stateName).toBe("SYN-SENT");
    await expect(pair.world.run(attempt)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_NET_UNREACHABLE"),
    );
  });

  it("on an established connection, unreachable is remembered and named when it times out", async () => {
    const pair = createPair({ configA: { maxRetransmissions: 3 } });
    const { client } = await establish(pair);
    const c = client.connection;
    pair.link.impairments.down = true;
    await client.write(new Uint8Array(100));
    await pair.world.advance(1e6);
    pair.a.upper.icmpError!(A, B, quote(c.localPort, c.remotePort, c.sndUna), "unreachable");
    expect(c.stateName).toBe("ESTABLISHED");
    const failure = await pair.world.run(
      client.read().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(isAtollError(failure, "ATOLL_TCP_TIMEOUT")).toBe(true);
    expect((failure as Error).message).toContain("unreachable");
  });

  it("fragmentation needed lowers the segment size and resends at once (RFC 1191)", async () => {
    const pair = createPair({ impairments: { delayNs: 20e6 } });
    const { client } = await establish(pair);
    const c = client.connection;
    const log = capture(pair.link);
    await client.write(new Uint8Array(20_000));
    await pair.world.advance(1e6);
    expect(Math.max(...log.map((x) => x.seg.payload.length))).toBe(1448);
    pair.a.upper.icmpError!(A, B, quote(c.localPort, c.remotePort, c.sndUna), "frag-needed", 1000);
    expect(c.maxSeg).toBe(980);
    const after = log.length;
    await pair.world.advance(200e6);
    const later = log.slice(after).filter((x) => x.src === A && x.seg.payload.length > 0);
    expect(later.length).toBeGreaterThan(0);
    for (const x of later) expect(x.seg.payload.length).toBeLessThanOrEqual(980 - 20 - 12);
    // An implausibly small MTU is ignored.
    pair.a.upper.icmpError!(A, B, quote(c.localPort, c.remotePort, c.sndUna), "frag-needed", 100);
    expect(c.maxSeg).toBe(980);
  });
});
