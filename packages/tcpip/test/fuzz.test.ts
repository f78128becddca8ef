// Random and mutated frames into the whole stack: nothing may escape the
// Netif listener, counters must move, and memory must stay bounded. The
// mutator often repairs checksums after damaging a frame, so that the damage
// reaches the layers above IPv4 instead of stopping at the header checksum.

import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { finishChecksum, pseudoHeaderSum, sumWords } from "../src/wire/checksum.js";
import { IpProtocol } from "../src/wire/ipv4.js";
import { arpFrame, echoRequestPayload, ipv4Frame, udpPayload } from "./support/frames.js";
import type { HubPort } from "./support/link.js";
import { type World, world } from "./support/stacks.js";

let w: World;
afterEach(async () => {
  await w?.close();
});

const limits = {
  arp: { maxEntries: 64, maxPendingBytes: 64 * 1024 },
  reassembly: { maxBytes: 256 * 1024, maxDatagrams: 16 },
} as const;

/** Valid frames of every kind the stack understands, addressed to `port`. */
function corpus(port: HubPort): Uint8Array[] {
  const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
  const to = { srcMac: peer, dstMac: port.mac, src: "10.0.0.9", dst: "10.0.0.2" };
  const big = udpPayload("10.0.0.9", "10.0.0.2", 1000, 7, new Uint8Array(3000).fill(9));
  return [
    arpFrame(1, peer, peer, "10.0.0.9", new Uint8Array(6), "10.0.0.2"),
    arpFrame(2, peer, peer, "10.0.0.9", port.mac, "10.0.0.2", port.mac),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.ICMP,
      payload: echoRequestPayload(1, 2, new Uint8Array(56)),
    }),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.UDP,
      payload: udpPayload("10.0.0.9", "10.0.0.2", 1000, 7, new Uint8Array(40)),
    }),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.UDP,
      payload: udpPayload("10.0.0.9", "10.0.0.2", 1000, 9, new Uint8Array(40)),
    }),
    ipv4Frame({ ...to, protocol: IpProtocol.TCP, payload: new Uint8Array(20) }),
    ipv4Frame({ ...to, protocol: 99, payload: new Uint8Array(20) }),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.UDP,
      payload: big.subarray(0, 1480),
      moreFragments: true,
      id: 3,
    }),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.UDP,
      payload: big.subarray(1480, 2960),
      moreFragments: true,
      id: 3,
      fragmentOffset: 1480,
    }),
    ipv4Frame({
      ...to,
      protocol: IpProtocol.UDP,
      payload: big.subarray(2960),
      id: 3,
      fragmentOffset: 2960,
    }),
    // An ICMP error quoting a TCP segment, and one quoting an echo request.
    ipv4Frame({
      ...to,
      protocol: IpProtocol.ICMP,
      payload: (() => {
        const quoted = ipv4Frame({
          ...to,
          src: "10.0.0.2",
          dst: "10.0.0.9",
          protocol: IpProtocol.TCP,
          payload: new Uint8Array(20),
        }).subarray(14, 62);
        const m = new Uint8Array(8 + quoted.length);
        m[0] = 3;
        m[1] = 4;
        m[7] = 200;
        m.set(quoted, 8);
        const sum = finishChecksum(sumWords(m, 0, m.length));
        m[2] = sum >> 8;
        m[3] = sum & 255;
        return m;
      })(),
    }),
  ];
}

/** Recomputes the IPv4 header checksum and the UDP or ICMP checksum of a frame, where it can. */
function repair(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 8 || f[13] !== 0) return;
  const hl = (f[14]! & 15) * 4;
  if (hl < 20 || 14 + hl > f.length) return;
  f[24] = 0;
  f[25] = 0;
  const ipSum = finishChecksum(sumWords(f, 14, hl));
  f[24] = ipSum >> 8;
  f[25] = ipSum & 255;
  const total = Math.min((f[16]! << 8) | f[17]!, f.length - 14);
  const at = 14 + hl;
  const length = total - hl;
  if (length < 8) return;
  const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  if (f[23] === IpProtocol.ICMP) {
    f[at + 2] = 0;
    f[at + 3] = 0;
    const s = finishChecksum(sumWords(f, at, length));
    f[at + 2] = s >> 8;
    f[at + 3] = s & 255;
  } else if (f[23] === IpProtocol.UDP) {
    const udpLength = Math.min((f[at + 4]! << 8) | f[at + 5]!, length);
    f[at + 6] = 0;
    f[at + 7] = 0;
    const s = finishChecksum(
      sumWords(f, at, udpLength, pseudoHeaderSum(src, dst, 17, (f[at + 4]! << 8) | f[at + 5]!)),
    );
    f[at + 6] = s >> 8;
    f[at + 7] = s & 255;
  }
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bits: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("set" as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("extend" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(frame: Uint8Array, mutations: Mutation[], fix: boolean): Uint8Array {
  let f = frame.slice();
  for (const m of mutations) {
    if (f.length === 0) break;
    if (m.kind === "flip") f[m.at % f.length]! ^= m.bits;
    else if (m.kind === "set") f[m.at % f.length] = m.value;
    else if (m.kind === "truncate") f = f.slice(0, m.at % (f.length + 1));
    else {
      const g = new Uint8Array(f.length + m.bytes.length);
      g.set(f);
      g.set(m.bytes, f.length);
      f = g;
    }
  }
  if (fix) repair(f);
  return f;
}

function checkBounds(w: World): void {
  const s = w.stacks[0]!;
  expect(s.stats.internalErrors).toBe(0);
  expect(s.interface.arp.size).toBeLessThanOrEqual(limits.arp.maxEntries);
  expect(s.interface.arp.pendingBytes).toBeLessThanOrEqual(limits.arp.maxPendingBytes);
  expect(s.interface.reassembler.bytes).toBeLessThanOrEqual(limits.reassembly.maxBytes);
  expect(s.interface.reassembler.size).toBeLessThanOrEqual(limits.reassembly.maxDatagrams);
}

describe("fuzzing the whole stack", () => {
  it("survives random frames", async () => {
    w = world(1, { hub: true });
    const s = w.add("10.0.0.2/24", limits);
    const port = w.ports[0]!;
    let delivered = 0;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1514 }),
        fc.constantFrom(null, 0x0800, 0x0806, 0x86dd),
        fc.boolean(),
        (bytes, type, toUs) => {
          const f = bytes.slice();
          if (toUs && f.length >= 6) f.set(port.mac);
          if (type !== null && f.length >= 14) {
            f[12] = type >> 8;
            f[13] = type & 255;
          }
          if (f.length >= 15 && type === 0x0800) f[14] = 0x45;
          repair(f);
          port.deliver(f);
          delivered++;
        },
      ),
      { numRuns: 3000 },
    );
    await w.time.advance(60e9);
    expect(s.stats.ethernet.rxFrames).toBe(delivered - port.stats.rxDropped);
    checkBounds(w);
  });

  it("survives mutated valid frames, reaching every layer", async () => {
    w = world(1, { hub: true });
    const s = w.add("10.0.0.2/24", limits);
    const port = w.ports[0]!;
    const frames = corpus(port);
    let delivered = 0;
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (index, mutations, fix) => {
          port.deliver(mutate(frames[index]!, mutations, fix));
          delivered++;
        },
      ),
      { numRuns: 5000 },
    );
    // Valid frames too, so that good and bad interleave.
    for (const f of frames) port.deliver(f);
    delivered += frames.length;
    await w.time.advance(60e9);
    expect(s.stats.ethernet.rxFrames).toBe(delivered - port.stats.rxDropped);
    expect(s.stats.ipv4.rxHeaderErrors).toBeGreaterThan(0);
    expect(s.stats.udp.rxDatagrams + s.stats.udp.rxNoPort).toBeGreaterThan(0);
    expect(s.stats.udp.rxChecksumErrors + s.stats.udp.rxLengthErrors).toBeGreaterThan(0);
    expect(s.stats.icmp.echoRequestsReceived).toBeGreaterThan(0);
    expect(s.stats.icmp.rxErrors).toBeGreaterThan(0);
    expect(s.stats.arp.rxErrors).toBeGreaterThan(0);
    expect(s.stats.fragments.fragmentsReceived).toBeGreaterThan(0);
    checkBounds(w);
  });

  it("keeps memory bounded under a flood of fragments and ARP, and still works afterwards", async () => {
    w = world(3, { hub: true });
    const s = w.add("10.0.0.2/24", limits);
    const a = w.add("10.0.0.1/24");
    const port = w.ports[0]!;
    const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
    const chunk = new Uint8Array(1480);
    for (let i = 0; i < 20_000; i++) {
      port.deliver(
        ipv4Frame({
          srcMac: peer,
          dstMac: port.mac,
          src: `10.0.${(i >> 8) & 255}.${i & 255}`,
          dst: "10.0.0.2",
          protocol: IpProtocol.UDP,
          payload: chunk,
          id: i & 0xffff,
          moreFragments: true,
          fragmentOffset: (i % 40) * 1480,
        }),
      );
      // Requests addressed to us from ever new hosts fill the ARP cache.
      const other = new Uint8Array([2, 8, 0, 0, (i >> 8) & 255, i & 255]);
      port.deliver(
        arpFrame(
          1,
          other,
          other,
          `10.0.${(i >> 8) & 255}.${i & 255}`,
          new Uint8Array(6),
          "10.0.0.2",
        ),
      );
      if (i % 1000 === 0) checkBounds(w);
    }
    checkBounds(w);
    expect(s.stats.fragments.discarded).toBeGreaterThan(19_000);
    expect(s.interface.arp.size).toBe(limits.arp.maxEntries);
    const reply = await w.run(a.icmp.ping("10.0.0.2"));
    expect(reply.address).toBe("10.0.0.2");
    await w.time.advance(31e9);
    expect(s.interface.reassembler.size).toBe(0);
  });
});
