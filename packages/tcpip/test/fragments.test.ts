import { VirtualTime } from "@atoll/clock";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { Reassembler, type ReassemblyOptions } from "../src/iface/reassembly.js";
import { emitIpv4Header, IpProtocol, parseIpv4 } from "../src/wire/ipv4.js";
import { arpFrame, ip, ipProtocolOf, ipv4Frame, isIpv4, udpPayload } from "./support/frames.js";
import { type World, world } from "./support/stacks.js";

/** The fragments of `payload` cut at multiples of `chunk` bytes, as IPv4 packets. */
function fragment(payload: Uint8Array, chunk: number, id = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += chunk) {
    const size = Math.min(chunk, payload.length - at);
    const p = new Uint8Array(20 + size);
    p.set(payload.subarray(at, at + size), 20);
    emitIpv4Header(
      p,
      0,
      ip("10.0.0.9"),
      ip("10.0.0.2"),
      17,
      size,
      id,
      64,
      false,
      at + size < payload.length,
      at,
    );
    out.push(p);
  }
  return out;
}

/** A fragment covering payload bytes [start, end) of `payload`. */
function piece(payload: Uint8Array, start: number, end: number, more: boolean, id = 1): Uint8Array {
  const p = new Uint8Array(20 + end - start);
  p.set(payload.subarray(start, end), 20);
  emitIpv4Header(p, 0, ip("10.0.0.9"), ip("10.0.0.2"), 17, end - start, id, 64, false, more, start);
  return p;
}

const payloadOf = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + 3) & 255);

function reassembler(options: ReassemblyOptions = {}) {
  const time = new VirtualTime();
  const timeouts: Array<{ header: Uint8Array; first: Uint8Array }> = [];
  const r = new Reassembler(time.timers, options, (header, first) =>
    timeouts.push({ header: header.slice(), first: first.slice() }),
  );
  return { r, time, timeouts };
}

describe("reassembly", () => {
  it("rebuilds a datagram from its fragments in any order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 6000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer(),
        (length, units, seed) => {
          const { r } = reassembler({ maxFragments: 1000 });
          const payload = payloadOf(length);
          const pieces = fragment(payload, units * 8);
          // A seeded shuffle.
          let s = seed >>> 0;
          for (let i = pieces.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) >>> 0;
            const j = s % (i + 1);
            [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
          }
          let whole: Uint8Array | undefined;
          for (const [i, p] of pieces.entries()) {
            const out = r.add(p, 0);
            if (i < pieces.length - 1) expect(out).toBeUndefined();
            else whole = out;
          }
          expect(whole).toBeDefined();
          const header = parseIpv4(whole!);
          expect(header).toMatchObject({
            payloadLength: length,
            moreFragments: false,
            fragmentOffset: 0,
          });
          expect(whole!.subarray(20)).toEqual(payload);
          expect(r.size).toBe(0);
          expect(r.bytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("ignores exact duplicates", () => {
    const { r } = reassembler();
    const payload = payloadOf(3000);
    const [a, b, c] = fragment(payload, 1480);
    expect(r.add(a!, 0)).toBeUndefined();
    expect(r.add(a!, 0)).toBeUndefined();
    expect(r.add(c!, 0)).toBeUndefined();
    expect(r.add(c!, 0)).toBeUndefined();
    expect(r.add(b!, 0)!.subarray(20)).toEqual(payload);
    expect(r.counters.duplicates).toBe(2);
  });

  it("drops the whole datagram when fragments overlap", () => {
    const { r } = reassembler();
    const payload = payloadOf(3000);
    expect(r.add(piece(payload, 0, 1480, true), 0)).toBeUndefined();
    // Starts inside the first fragment.
    expect(r.add(piece(payload, 1472, 2960, true), 0)).toBeUndefined();
    expect(r.counters.overlaps).toBe(1);
    expect(r.size).toBe(0);
    // What follows cannot complete it: the first fragment is gone.
    expect(r.add(piece(payload, 1480, 2960, true), 0)).toBeUndefined();
    expect(r.add(piece(payload, 2960, 3000, false), 0)).toBeUndefined();
    expect(r.size).toBe(1);
    // Also a fragment that contains another.
    const { r: r2 } = reassembler();
    r2.add(piece(payload, 1480, 1600, true), 0);
    r2.add(piece(payload, 1400, 2000, true), 0);
    expect(r2.counters.overlaps).toBe(1);
  });

  it("drops inconsistent ends", () => {
    const { r } = reassembler();
    const payload = payloadOf(3000);
    r.add(piece(payload, 0, 1480, true), 0);
    r.add(piece(payload, 2960, 3000, false), 0);
    // A second, different "last" fragment.
    r.add(piece(payload, 1480, 1600, false), 0);
    expect(r.counters.discarded).toBe(1);
    expect(r.size).toBe(0);
  });

  it("gives up after the timeout and reports the first fragment", async () => {
    const { r, time, timeouts } = reassembler();
    const payload = payloadOf(3000);
    r.add(piece(payload, 0, 1480, true), 0);
    r.add(piece(payload, 1480, 1488, true, 2), 0); // another datagram, without its first fragment
    await time.advance(29.9e9);
    expect(r.size).toBe(2);
    await time.advance(0.1e9);
    expect(r.size).toBe(0);
    expect(r.counters.timeouts).toBe(2);
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]!.header.length).toBe(20);
    expect(timeouts[0]!.first).toEqual(payload.subarray(0, 8));
    expect(r.bytes).toBe(0);
  });

  it("bounds fragments per datagram, datagrams and bytes", () => {
    const payload = payloadOf(8 * 200);
    const { r } = reassembler({ maxFragments: 10 });
    for (let i = 0; i < 11; i++) r.add(piece(payload, i * 8, i * 8 + 8, true), 0);
    expect(r.counters.discarded).toBe(1);
    expect(r.size).toBe(0);

    const { r: r2 } = reassembler({ maxDatagrams: 4 });
    for (let id = 0; id < 10; id++) r2.add(piece(payload, 0, 8, true, id), 0);
    expect(r2.size).toBe(4);
    expect(r2.counters.discarded).toBe(6);

    const { r: r3 } = reassembler({ maxBytes: 4000 });
    for (let id = 0; id < 10; id++) r3.add(piece(payloadOf(3000), 0, 1480, true, id), 0);
    expect(r3.bytes).toBeLessThanOrEqual(4000);
    expect(r3.size).toBe(2);
    // A datagram larger than the whole budget never starts.
    const { r: r4 } = reassembler({ maxBytes: 1000 });
    r4.add(piece(payloadOf(3000), 0, 1480, true), 0);
    expect(r4.size).toBe(0);
  });
});

describe("fragments on the wire", () => {
  let w: World;
  afterEach(async () => {
    await w?.close();
  });

  it("delivers a datagram whose fragments arrive out of order and duplicated", async () => {
    w = world(1, { hub: true });
    const b = w.add("10.0.0.2/24");
    const port = w.ports[0]!;
    const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
    const data = payloadOf(4000);
    const datagram = udpPayload("10.0.0.9", "10.0.0.2", 1000, 7, data);
    const got: Uint8Array[] = [];
    b.udp.listen(7, (d) => got.push(d.data.slice()));
    const frames = [];
    for (let at = 0; at < datagram.length; at += 1480) {
      const end = Math.min(at + 1480, datagram.length);
      frames.push(
        ipv4Frame({
          srcMac: peer,
          dstMac: port.mac,
          src: "10.0.0.9",
          dst: "10.0.0.2",
          protocol: IpProtocol.UDP,
          payload: datagram.subarray(at, end),
          id: 77,
          moreFragments: end < datagram.length,
          fragmentOffset: at,
        }),
      );
    }
    for (const f of [frames[2]!, frames[0]!, frames[2]!, frames[1]!, frames[0]!])
      w.hub.inject(port, f);
    await w.time.advance(1e6);
    expect(got).toEqual([data]);
    expect(b.stats.fragments.duplicates).toBe(1);
  });

  it("answers an incomplete datagram with ICMP time exceeded after 30 s", async () => {
    w = world(1, { hub: true });
    const b = w.add("10.0.0.2/24", { announce: false });
    const port = w.ports[0]!;
    const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
    // The peer asks for B first, so B knows its MAC.
    w.hub.inject(port, arpFrame(1, peer, peer, "10.0.0.9", new Uint8Array(6), "10.0.0.2"));
    await w.time.advance(0);
    w.hub.recording = true;
    w.hub.inject(
      port,
      ipv4Frame({
        srcMac: peer,
        dstMac: port.mac,
        src: "10.0.0.9",
        dst: "10.0.0.2",
        protocol: IpProtocol.UDP,
        payload: payloadOf(1480),
        id: 5,
        moreFragments: true,
      }),
    );
    await w.time.advance(30e9);
    expect(b.stats.fragments.timeouts).toBe(1);
    expect(b.stats.icmp.errorsSent).toBe(1);
    const icmp = w.hub.log.filter(
      (e) => isIpv4(e.frame) && ipProtocolOf(e.frame) === IpProtocol.ICMP,
    );
    expect(icmp).toHaveLength(1);
    const f = icmp[0]!.frame;
    expect(f.subarray(0, 6)).toEqual(peer);
    expect([f[34], f[35]]).toEqual([11, 1]);
    expect(parseIpv4(f.subarray(42))).toBeUndefined(); // the quote is only a header and 8 bytes...
    expect(f.length).toBe(14 + 20 + 8 + 20 + 8);
    expect((f[42 + 4]! << 8) | f[42 + 5]!).toBe(5); // ...of our datagram, id 5
  });
});
