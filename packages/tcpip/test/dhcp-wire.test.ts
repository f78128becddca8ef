// The DHCP message format: round trips, option overload (RFC 2131 §4.1),
// split long options (RFC 3396), and rejection of everything malformed.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BOOTP_MIN_LENGTH,
  BootpOp,
  DhcpMessageType,
  DhcpOption,
  DhcpProblem,
  emitDhcp,
  maskPrefixLength,
  optionAddresses,
  parseDhcp,
} from "../src/dhcp/wire.js";

const mac = new Uint8Array([2, 0, 0, 0, 0, 7]);

/** A reply with its options written by hand (after the cookie), for malformed ones. */
function rawMessage(options: number[], edit?: (bytes: Uint8Array) => void): Uint8Array {
  const bytes = emitDhcp({ op: BootpOp.REPLY, xid: 1, chaddr: mac, type: DhcpMessageType.ACK });
  const out = new Uint8Array(Math.max(bytes.length, 240 + options.length));
  out.set(bytes.subarray(0, 240));
  out.set(options, 240);
  edit?.(out);
  return out;
}

describe("DHCP wire format", () => {
  it("round-trips header fields and options, splitting long ones (RFC 3396)", () => {
    const codes = fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52 && c !== 53);
    fc.assert(
      fc.property(
        fc.record({
          op: fc.constantFrom(BootpOp.REQUEST, BootpOp.REPLY),
          xid: fc.nat({ max: 0xffffffff }),
          secs: fc.nat({ max: 0xffff }),
          flags: fc.nat({ max: 0xffff }),
          ciaddr: fc.nat({ max: 0xffffffff }),
          yiaddr: fc.nat({ max: 0xffffffff }),
          siaddr: fc.nat({ max: 0xffffffff }),
          giaddr: fc.nat({ max: 0xffffffff }),
          chaddr: fc.uint8Array({ minLength: 6, maxLength: 6 }),
          type: fc.integer({ min: 1, max: 8 }),
        }),
        fc.uniqueArray(fc.tuple(codes, fc.uint8Array({ maxLength: 600 })), {
          selector: ([code]) => code,
          maxLength: 8,
        }),
        (header, options) => {
          const bytes = emitDhcp({ ...header, type: header.type as DhcpMessageType, options });
          expect(bytes.length).toBeGreaterThanOrEqual(BOOTP_MIN_LENGTH);
          const parsed = parseDhcp(bytes);
          expect(parsed.problem).toBe(DhcpProblem.OK);
          const m = parsed.message!;
          const { chaddr, type, ...fields } = header;
          expect(m).toMatchObject(fields);
          expect([...m.chaddr]).toEqual([...chaddr]);
          expect(m.type).toBe(type);
          expect(m.options.size).toBe(options.length + 1);
          for (const [code, value] of options)
            expect([...m.options.get(code)!]).toEqual([...value]);
        },
      ),
    );
  });

  it("reads options continued in the file and sname fields (option 52)", () => {
    const bytes = rawMessage([52, 1, 3, 53, 1, 5, 255]);
    bytes.set([51, 4, 0, 0, 0x0e, 0x10, 255], 108); // file: lease time 3600
    bytes.set([6, 4, 10, 0, 0, 53, 255], 44); // sname: a DNS server
    const m = parseDhcp(bytes).message!;
    expect(m.type).toBe(DhcpMessageType.ACK);
    expect(m.options.get(DhcpOption.LEASE_TIME)).toEqual(new Uint8Array([0, 0, 0x0e, 0x10]));
    expect(optionAddresses(m.options, DhcpOption.DNS_SERVERS)).toEqual([0x0a000035]);
    expect(m.options.has(DhcpOption.OVERLOAD)).toBe(false);
    // Without option 52 the same fields are not options.
    const plain = rawMessage([53, 1, 5, 255]);
    plain.set([51, 4, 0, 0, 0x0e, 0x10, 255], 108);
    expect(parseDhcp(plain).message!.options.has(DhcpOption.LEASE_TIME)).toBe(false);
  });

  it("concatenates instances of one option and skips padding", () => {
    const m = parseDhcp(rawMessage([0, 0, 53, 1, 2, 6, 4, 1, 2, 3, 4, 0, 6, 4, 5, 6, 7, 8, 255]))
      .message!;
    expect(optionAddresses(m.options, DhcpOption.DNS_SERVERS)).toEqual([0x01020304, 0x05060708]);
  });

  it("rejects what is not a well-formed DHCP message", () => {
    const good = rawMessage([53, 1, 5, 255]);
    expect(parseDhcp(good).problem).toBe(DhcpProblem.OK);
    const cases: Array<[string, Uint8Array, DhcpProblem]> = [
      ["empty", new Uint8Array(0), DhcpProblem.TRUNCATED],
      ["no cookie", good.subarray(0, 239), DhcpProblem.TRUNCATED],
      ["op 3", rawMessage([53, 1, 5, 255], (b) => (b[0] = 3)), DhcpProblem.BAD_HEADER],
      ["htype 6", rawMessage([53, 1, 5, 255], (b) => (b[1] = 6)), DhcpProblem.BAD_HEADER],
      ["hlen 16", rawMessage([53, 1, 5, 255], (b) => (b[2] = 16)), DhcpProblem.BAD_HEADER],
      [
        "BOOTP vendor cookie",
        rawMessage([53, 1, 5, 255], (b) => (b[239] = 0)),
        DhcpProblem.BAD_COOKIE,
      ],
      [
        "option past the end",
        rawMessage([53, 1, 5, 6, 200, 1]).subarray(0, 248),
        DhcpProblem.BAD_OPTIONS,
      ],
      ["length byte missing", rawMessage([53, 1, 5, 6]).subarray(0, 244), DhcpProblem.BAD_OPTIONS],
      ["overload of 2 bytes", rawMessage([52, 2, 1, 1, 53, 1, 5, 255]), DhcpProblem.BAD_OPTIONS],
      ["overload 4", rawMessage([52, 1, 4, 53, 1, 5, 255]), DhcpProblem.BAD_OPTIONS],
      ["no message type", rawMessage([51, 4, 0, 0, 0, 1, 255]), DhcpProblem.NO_MESSAGE_TYPE],
      ["type 0", rawMessage([53, 1, 0, 255]), DhcpProblem.NO_MESSAGE_TYPE],
      ["type 9", rawMessage([53, 1, 9, 255]), DhcpProblem.NO_MESSAGE_TYPE],
      ["type of 2 bytes", rawMessage([53, 2, 5, 5, 255]), DhcpProblem.NO_MESSAGE_TYPE],
    ];
    for (const [name, bytes, problem] of cases) {
      expect(parseDhcp(bytes).problem, name).toBe(problem);
    }
    const overflowingFile = rawMessage([52, 1, 1, 53, 1, 5, 255]);
    overflowingFile.set([51, 200], 230);
    expect(parseDhcp(overflowingFile).problem).toBe(DhcpProblem.BAD_OPTIONS);
  });

  it("never throws on arbitrary bytes, with or without a valid start", () => {
    const prefix = rawMessage([]).subarray(0, 240);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.boolean(), (tail, valid) => {
        const bytes = valid ? new Uint8Array([...prefix, ...tail]) : tail;
        const parsed = parseDhcp(bytes);
        if (parsed.problem === DhcpProblem.OK) expect(parsed.message.type).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads netmasks as prefix lengths and refuses non-contiguous ones", () => {
    expect(maskPrefixLength(0xffffff00)).toBe(24);
    expect(maskPrefixLength(0xffffffff)).toBe(32);
    expect(maskPrefixLength(0x80000000)).toBe(1);
    expect(maskPrefixLength(0)).toBe(0);
    expect(maskPrefixLength(0xff00ff00)).toBeUndefined();
    expect(maskPrefixLength(0x00ffffff)).toBeUndefined();
    for (let n = 0; n <= 32; n++) {
      const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
      expect(maskPrefixLength(mask)).toBe(n);
    }
  });
});
