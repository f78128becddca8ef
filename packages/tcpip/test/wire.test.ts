// Packet formats: emit → check → parse round-trips, properties over random
// representations, and every checker fed random and mutated bytes.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArpOperation, ArpProblem, checkArp, emitArp, parseArp } from "../src/wire/arp.js";
import { finishChecksum, internetChecksum, sumWords } from "../src/wire/checksum.js";
import {
  BROADCAST_MAC,
  EtherType,
  emitEthernet,
  ethernetType,
  formatMac,
  isBroadcastDestination,
  isMulticastDestination,
  parseEthernet,
  parseMac,
} from "../src/wire/ethernet.js";
import { checkIcmp, emitIcmp, IcmpProblem, IcmpType, parseIcmp } from "../src/wire/icmpv4.js";
import {
  checkIpv4,
  emitIpv4,
  emitIpv4Header,
  emitIpv4HeaderView,
  IpProtocol,
  Ipv4Problem,
  type Ipv4Repr,
  parseIpv4,
  prefixMask,
} from "../src/wire/ipv4.js";
import { checkUdp, emitUdp, parseUdp, UdpProblem } from "../src/wire/udp.js";

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const ip = fc.integer({ min: 0, max: 0xffffffff });
const runs = { numRuns: 300 };

describe("Ethernet", () => {
  it("round-trips a header", () => {
    fc.assert(
      fc.property(
        mac,
        mac,
        fc.integer({ min: 0, max: 0xffff }),
        (destination, source, etherType) => {
          const frame = new Uint8Array(14);
          emitEthernet({ destination, source, etherType }, frame);
          expect(parseEthernet(frame)).toEqual({ destination, source, etherType });
          expect(ethernetType(frame)).toBe(etherType);
        },
      ),
      runs,
    );
  });

  it("recognises broadcast and multicast destinations", () => {
    const frame = new Uint8Array(14);
    frame.set(BROADCAST_MAC);
    expect(isBroadcastDestination(frame)).toBe(true);
    expect(isMulticastDestination(frame)).toBe(true);
    frame.set([0x01, 0x00, 0x5e, 1, 2, 3]);
    expect(isBroadcastDestination(frame)).toBe(false);
    expect(isMulticastDestination(frame)).toBe(true);
    frame.set([0x02, 0, 0, 0, 0, 1]);
    expect(isMulticastDestination(frame)).toBe(false);
  });

  it("formats and parses MAC addresses", () => {
    fc.assert(
      fc.property(mac, (m) => {
        expect(parseMac(formatMac(m))).toEqual(m);
      }),
      runs,
    );
    expect(parseMac("02:00:00:00:00")).toBeUndefined();
    expect(parseMac("zz:00:00:00:00:00")).toBeUndefined();
    expect(parseEthernet(new Uint8Array(13))).toBeUndefined();
  });
});

describe("ARP", () => {
  const repr = fc.record({
    operation: fc.constantFrom(ArpOperation.REQUEST, ArpOperation.REPLY),
    senderMac: mac,
    senderIp: ip,
    targetMac: mac,
    targetIp: ip,
  });

  it("round-trips a packet", () => {
    fc.assert(
      fc.property(repr, (r) => {
        const buffer = new Uint8Array(28);
        emitArp(r, buffer);
        expect(checkArp(buffer, 0, 28)).toBe(ArpProblem.OK);
        expect(parseArp(buffer)).toEqual(r);
      }),
      runs,
    );
  });

  it("rejects truncated packets, other hardware and protocols, and unknown operations", () => {
    const buffer = new Uint8Array(28);
    emitArp(
      {
        operation: 1,
        senderMac: new Uint8Array(6),
        senderIp: 1,
        targetMac: new Uint8Array(6),
        targetIp: 2,
      },
      buffer,
    );
    expect(checkArp(buffer, 0, 27)).toBe(ArpProblem.TRUNCATED);
    expect(checkArp(buffer.subarray(0, 27), 0, 28)).toBe(ArpProblem.TRUNCATED);
    const mutate = (i: number, v: number) => {
      const b = buffer.slice();
      b[i] = v;
      return checkArp(b, 0, 28);
    };
    expect(mutate(1, 6)).toBe(ArpProblem.UNSUPPORTED_HARDWARE);
    expect(mutate(4, 8)).toBe(ArpProblem.UNSUPPORTED_HARDWARE);
    expect(mutate(2, 0x86)).toBe(ArpProblem.UNSUPPORTED_PROTOCOL);
    expect(mutate(5, 16)).toBe(ArpProblem.UNSUPPORTED_PROTOCOL);
    expect(mutate(7, 3)).toBe(ArpProblem.BAD_OPERATION);
    expect(mutate(6, 1)).toBe(ArpProblem.BAD_OPERATION);
  });
});

const ipv4Repr: fc.Arbitrary<Ipv4Repr> = fc
  .record({
    source: ip,
    destination: ip,
    protocol: fc.integer({ min: 0, max: 255 }),
    ttl: fc.integer({ min: 0, max: 255 }),
    tos: fc.integer({ min: 0, max: 255 }),
    identification: fc.integer({ min: 0, max: 0xffff }),
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentUnits: fc.integer({ min: 0, max: 0x1fff }),
    payloadUnits: fc.integer({ min: 0, max: 200 }),
  })
  .map((r) => {
    const payloadLength = r.payloadUnits * 8 || (r.moreFragments ? 8 : 0);
    const maxUnits = Math.floor((65515 - payloadLength) / 8);
    return {
      source: r.source,
      destination: r.destination,
      protocol: r.protocol,
      ttl: r.ttl,
      tos: r.tos,
      identification: r.identification,
      dontFragment: r.dontFragment,
      moreFragments: r.moreFragments,
      fragmentOffset: Math.min(r.fragmentUnits, maxUnits) * 8,
      payloadLength,
    };
  });

describe("IPv4", () => {
  it("round-trips a header, checksum included", () => {
    fc.assert(
      fc.property(ipv4Repr, (r) => {
        const buffer = new Uint8Array(20 + r.payloadLength);
        emitIpv4(r, buffer);
        expect(internetChecksum(buffer, 0, 20)).toBe(0);
        expect(checkIpv4(buffer, 0, buffer.length)).toBe(Ipv4Problem.OK);
        expect(parseIpv4(buffer)).toEqual(r);
      }),
      runs,
    );
  });

  it("writes the same header through a DataView (the send fast path)", () => {
    fc.assert(
      fc.property(
        ip,
        ip,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 65515 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        fc.nat(8),
        (src, dst, protocol, length, id, ttl, df, at) => {
          const a = new Uint8Array(40);
          const b = new Uint8Array(40).fill(0xee);
          emitIpv4Header(a, at, src, dst, protocol, length, id, ttl, df, false, 0);
          emitIpv4HeaderView(new DataView(b.buffer), at, src, dst, protocol, length, id, ttl, df);
          expect(b.subarray(at, at + 20)).toEqual(a.subarray(at, at + 20));
          expect(internetChecksum(b, at, 20)).toBe(0);
        },
      ),
      runs,
    );
  });

  it("accepts link padding after the total length", () => {
    const buffer = new Uint8Array(60);
    emitIpv4(
      {
        source: 1,
        destination: 2,
        protocol: 17,
        ttl: 64,
        tos: 0,
        identification: 0,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 8,
      },
      buffer,
    );
    expect(checkIpv4(buffer, 0, 60)).toBe(Ipv4Problem.OK);
    expect(parseIpv4(buffer)?.payloadLength).toBe(8);
  });

  it("detects every single-bit error in the header", () => {
    const buffer = new Uint8Array(28);
    emitIpv4(
      {
        source: 0x0a000001,
        destination: 0x0a000002,
        protocol: 6,
        ttl: 64,
        tos: 0,
        identification: 7,
        dontFragment: true,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 8,
      },
      buffer,
    );
    for (let bit = 0; bit < 160; bit++) {
      const b = buffer.slice();
      b[bit >> 3]! ^= 1 << (bit & 7);
      expect(checkIpv4(b, 0, b.length)).not.toBe(Ipv4Problem.OK);
    }
  });

  it("names the problem with a malformed header", () => {
    const good = new Uint8Array(40);
    emitIpv4(
      {
        source: 1,
        destination: 2,
        protocol: 17,
        ttl: 64,
        tos: 0,
        identification: 0,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 20,
      },
      good,
    );
    const withField = (set: (b: Uint8Array) => void) => {
      const b = good.slice();
      set(b);
      // Recompute the checksum so that only the field itself is wrong.
      b[10] = 0;
      b[11] = 0;
      const sum = finishChecksum(sumWords(b, 0, (b[0]! & 15) * 4 > 40 ? 20 : (b[0]! & 15) * 4));
      b[10] = sum >> 8;
      b[11] = sum & 255;
      return checkIpv4(b, 0, b.length);
    };
    expect(checkIpv4(good, 0, 19)).toBe(Ipv4Problem.TRUNCATED);
    expect(withField((b) => (b[0] = 0x65))).toBe(Ipv4Problem.BAD_VERSION);
    expect(withField((b) => (b[0] = 0x44))).toBe(Ipv4Problem.BAD_HEADER_LENGTH);
    expect(withField((b) => (b[3] = 41))).toBe(Ipv4Problem.BAD_TOTAL_LENGTH);
    expect(withField((b) => (b[3] = 19))).toBe(Ipv4Problem.BAD_TOTAL_LENGTH);
    // 7 bytes of payload in a fragment that is not the last.
    expect(
      withField((b) => {
        b[3] = 27;
        b[6] = 0x20;
      }),
    ).toBe(Ipv4Problem.BAD_FRAGMENT);
    // A fragment that would end past 65535 bytes (ping of death).
    expect(
      withField((b) => {
        b[6] = 0x1f;
        b[7] = 0xff;
      }),
    ).toBe(Ipv4Problem.BAD_FRAGMENT);
    // Options: a 24-byte header whose option claims 8 bytes.
    expect(
      withField((b) => {
        b[0] = 0x46;
        b[20] = 0x07;
        b[21] = 8;
      }),
    ).toBe(Ipv4Problem.BAD_OPTIONS);
    // Options: a length of 1 is impossible.
    expect(
      withField((b) => {
        b[0] = 0x46;
        b[20] = 0x44;
        b[21] = 1;
      }),
    ).toBe(Ipv4Problem.BAD_OPTIONS);
    // NOP, NOP, NOP, EOL are fine.
    expect(
      withField((b) => {
        b[0] = 0x46;
        b.set([1, 1, 1, 0], 20);
      }),
    ).toBe(Ipv4Problem.OK);
  });

  it("computes prefix masks", () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(8)).toBe(0xff000000);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
  });
});

describe("ICMPv4", () => {
  const repr = fc.record({
    type: fc.integer({ min: 0, max: 255 }),
    code: fc.integer({ min: 0, max: 255 }),
    restOfHeader: fc.integer({ min: 0, max: 0xffffffff }),
    data: fc.uint8Array({ maxLength: 600 }),
  });

  it("round-trips a message with its checksum", () => {
    fc.assert(
      fc.property(repr, (r) => {
        const buffer = new Uint8Array(8 + r.data.length);
        expect(emitIcmp(r, buffer)).toBe(buffer.length);
        expect(checkIcmp(buffer, 0, buffer.length)).toBe(IcmpProblem.OK);
        expect(parseIcmp(buffer)).toEqual(r);
      }),
      runs,
    );
  });

  it("rejects a corrupted or truncated message", () => {
    fc.assert(
      fc.property(repr, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, flip) => {
        const buffer = new Uint8Array(8 + r.data.length);
        emitIcmp(r, buffer);
        // A one-byte change moves the sum by less than 0xffff: always detected.
        buffer[at % buffer.length]! ^= flip;
        expect(checkIcmp(buffer, 0, buffer.length)).toBe(IcmpProblem.BAD_CHECKSUM);
      }),
      runs,
    );
    expect(checkIcmp(new Uint8Array(7), 0, 7)).toBe(IcmpProblem.TRUNCATED);
    expect(IcmpType.ECHO_REQUEST).toBe(8);
  });
});

describe("UDP", () => {
  const repr = fc.record({
    sourcePort: fc.integer({ min: 0, max: 0xffff }),
    destinationPort: fc.integer({ min: 0, max: 0xffff }),
    data: fc.uint8Array({ maxLength: 1500 }),
  });

  it("round-trips a datagram with the pseudo-header checksum", () => {
    fc.assert(
      fc.property(repr, ip, ip, (r, source, destination) => {
        const buffer = new Uint8Array(8 + r.data.length);
        expect(emitUdp(r, buffer, source, destination)).toBe(buffer.length);
        expect(buffer[6]! | buffer[7]!).not.toBe(0); // never sends "no checksum"
        expect(checkUdp(buffer, 0, buffer.length, source, destination)).toBe(UdpProblem.OK);
        expect(parseUdp(buffer, source, destination)).toEqual(r);
      }),
      runs,
    );
  });

  it("rejects a datagram checked against another address", () => {
    fc.assert(
      fc.property(
        repr,
        ip,
        ip,
        fc.integer({ min: 1, max: 0xfffe }),
        (r, source, destination, delta) => {
          const buffer = new Uint8Array(8 + r.data.length);
          emitUdp(r, buffer, source, destination);
          // A change of one 16-bit word of the pseudo-header by a non-multiple of 0xffff.
          const other = (source ^ delta) >>> 0;
          expect(checkUdp(buffer, 0, buffer.length, other, destination)).toBe(
            UdpProblem.BAD_CHECKSUM,
          );
        },
      ),
      runs,
    );
  });

  it("accepts a zero checksum (none sent), and names length problems", () => {
    const buffer = new Uint8Array(12);
    emitUdp({ sourcePort: 1, destinationPort: 2, data: new Uint8Array(4) }, buffer, 1, 2);
    buffer[6] = 0;
    buffer[7] = 0;
    expect(checkUdp(buffer, 0, 12, 9, 9)).toBe(UdpProblem.OK);
    expect(checkUdp(buffer, 0, 7, 1, 2)).toBe(UdpProblem.TRUNCATED);
    buffer[5] = 13;
    expect(checkUdp(buffer, 0, 12, 1, 2)).toBe(UdpProblem.BAD_LENGTH);
    buffer[5] = 7;
    expect(checkUdp(buffer, 0, 12, 1, 2)).toBe(UdpProblem.BAD_LENGTH);
  });
});

describe("every checker on arbitrary bytes", () => {
  it("returns a verdict and never throws or reads out of bounds", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(220),
        fc.nat(220),
        ip,
        ip,
        (bytes, offset, length, a, b) => {
          for (const check of [
            () => checkArp(bytes, offset, length),
            () => checkIpv4(bytes, offset, length),
            () => checkIcmp(bytes, offset, length),
            () => checkUdp(bytes, offset, length, a, b),
          ]) {
            expect(typeof check()).toBe("number");
          }
          parseArp(bytes);
          parseIpv4(bytes);
          parseIcmp(bytes);
          parseUdp(bytes, a, b);
          parseEthernet(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("detects any one-byte corruption of a UDP packet, unless it zeroes the UDP checksum", () => {
    const base = new Uint8Array(20 + 8 + 32);
    emitIpv4(
      {
        source: 0x0a000001,
        destination: 0x0a000002,
        protocol: IpProtocol.UDP,
        ttl: 64,
        tos: 0,
        identification: 1,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 40,
      },
      base,
    );
    const data = new Uint8Array(32).map((_, i) => i * 7);
    emitUdp({ sourcePort: 1000, destinationPort: 7, data }, base, 0x0a000001, 0x0a000002, 20);
    for (let i = 0; i < base.length; i++) {
      for (let flip = 1; flip < 256; flip++) {
        const b = base.slice();
        b[i]! ^= flip;
        const accepted =
          checkIpv4(b, 0, b.length) === Ipv4Problem.OK &&
          checkUdp(b, 20, 40, 0x0a000001, 0x0a000002) === UdpProblem.OK;
        const checksumZeroed = (i === 26 || i === 27) && (b[26]! | b[27]!) === 0;
        expect(accepted).toBe(checksumZeroed);
      }
    }
    expect(EtherType.IPV4).toBe(0x0800);
  });
});
