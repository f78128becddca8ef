// The pieces under the state machine: the segment format, sequence
// arithmetic, range sets, byte rings and SipHash.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeqRanges } from "../src/tcp/ranges.js";
import { BufferPool, ByteRing } from "../src/tcp/ring.js";
import { seqAdd, seqDiff, seqGt, seqLt } from "../src/tcp/seq.js";
import { SipHash } from "../src/tcp/siphash.js";
import {
  checkHeader,
  emitSegment,
  parseOptions,
  parseSegment,
  TcpOptions,
  type TcpSegmentRepr,
  verifyChecksum,
} from "../src/tcp/wire.js";

const reprArb: fc.Arbitrary<TcpSegmentRepr> = fc
  .record({
    srcPort: fc.integer({ min: 1, max: 65535 }),
    dstPort: fc.integer({ min: 1, max: 65535 }),
    seq: fc.nat({ max: 0xffffffff }),
    ack: fc.nat({ max: 0xffffffff }),
    flags: fc.nat(255),
    window: fc.nat(65535),
    urgent: fc.nat(65535),
    payload: fc.uint8Array({ maxLength: 200 }),
    mss: fc.option(fc.nat(65535), { nil: undefined }),
    wscale: fc.option(fc.nat(14), { nil: undefined }),
    sackPermitted: fc.option(fc.constant(true), { nil: undefined }),
    timestamp: fc.option(
      fc.record({ tsVal: fc.nat({ max: 0xffffffff }), tsEcr: fc.nat({ max: 0xffffffff }) }),
      { nil: undefined },
    ),
    sack: fc.option(
      fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), {
        minLength: 1,
        maxLength: 2,
      }),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const out = { ...r } as TcpSegmentRepr;
    for (const k of Object.keys(out) as (keyof TcpSegmentRepr)[])
      if (out[k] === undefined) delete out[k];
    return out;
  })
  .filter((r) => {
    // Options must fit the 40 bytes a header has room for.
    const n =
      (r.mss !== undefined ? 4 : 0) +
      (r.wscale !== undefined ? 4 : 0) +
      (r.sackPermitted ? 4 : 0) +
      (r.timestamp ? 12 : 0) +
      (r.sack ? 4 + 8 * r.sack.length : 0);
    return n <= 40;
  });

describe("tcp wire format", () => {
  it("emit then parse is the identity, and the checksum verifies", () => {
    fc.assert(
      fc.property(
        reprArb,
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        (r, src, dst) => {
          const bytes = emitSegment(r, src, dst);
          expect(verifyChecksum(bytes, 0, bytes.length, src, dst)).toBe(true);
          expect(parseSegment(bytes)).toEqual(r);
        },
      ),
    );
  });

  it("a flipped bit breaks the checksum", () => {
    fc.assert(
      fc.property(reprArb, fc.nat(), (r, bit) => {
        const bytes = emitSegment(r, 0x0a000001, 0x0a000002);
        bytes[(bit >> 3) % bytes.length]! ^= 1 << (bit & 7);
        expect(verifyChecksum(bytes, 0, bytes.length, 0x0a000001, 0x0a000002)).toBe(false);
      }),
    );
  });

  it("rejects bad data offsets and impossible option lengths", () => {
    const ok = emitSegment(
      {
        srcPort: 1,
        dstPort: 2,
        seq: 0,
        ack: 0,
        flags: 2,
        window: 0,
        urgent: 0,
        payload: new Uint8Array(0),
        mss: 1460,
      },
      1,
      2,
    );
    expect(checkHeader(ok, 0, ok.length)).toBe(24);
    const short = ok.slice();
    short[12] = 4 << 4; // 16-byte header
    expect(checkHeader(short, 0, short.length)).toBe(-1);
    const long = ok.slice();
    long[12] = 15 << 4; // 60 bytes, past the end
    expect(checkHeader(long, 0, long.length)).toBe(-1);
    expect(checkHeader(ok, 0, 19)).toBe(-1);
    const o = new TcpOptions();
    for (const bad of [
      [2, 0], // zero length
      [2, 1], // length one
      [2, 3, 0], // MSS of length 3
      [3, 4, 1, 1], // window scale of length 4
      [4, 3, 0], // SACK-permitted of length 3
      [8, 9, 0, 0, 0, 0, 0, 0, 0], // timestamps of length 9
      [5, 6, 0, 0, 0, 0], // SACK with a partial block
      [5, 2], // SACK with no block
      [2, 4, 5], // runs past the end
      [30, 40], // unknown option past the end
    ]) {
      expect(parseOptions(new Uint8Array(bad), 0, bad.length, o)).toBe(false);
    }
    expect(parseOptions(new Uint8Array([1, 1, 30, 3, 9, 0, 7]), 0, 7, o)).toBe(true); // unknown skipped, EOL
    expect(parseOptions(new Uint8Array([3, 3, 200]), 0, 3, o)).toBe(true);
    expect(o.wscale).toBe(14); // clamped (RFC 7323 §2.3)
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        parseSegment(bytes);
        parseOptions(bytes, 0, bytes.length, new TcpOptions());
      }),
    );
  });
});

describe("sequence arithmetic", () => {
  it("compares across the wrap", () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqAdd(0xffffffff, 2)).toBe(1);
    expect(seqDiff(1, 0xffffffff)).toBe(2);
  });
});

describe("SeqRanges", () => {
  it("matches a set-of-bytes model, with merging and a bound on ranges", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.array(fc.tuple(fc.nat(500), fc.integer({ min: 1, max: 40 })), { maxLength: 40 }),
        fc.nat(300),
        (base, adds, trim) => {
          const r = new SeqRanges(6);
          const model = new Set<number>();
          for (const [off, len] of adds) {
            const before = new Set(model);
            const ok = r.add(seqAdd(base, off), seqAdd(base, off + len));
            if (ok) for (let i = off; i < off + len; i++) model.add(i);
            else expect(model).toEqual(before);
            expect(r.count).toBeLessThanOrEqual(6);
          }
          r.trimBelow(seqAdd(base, trim));
          for (const i of [...model]) if (i < trim) model.delete(i);
          expect(r.total()).toBe(model.size);
          const seen: number[] = [];
          const want: number[] = [];
          for (let i = 0; i < 560; i++) {
            if (r.contains(seqAdd(base, i))) seen.push(i);
            if (model.has(i)) want.push(i);
          }
          expect(seen).toEqual(want);
          // Ranges are sorted, disjoint and not touching.
          for (let k = 1; k < r.count; k++) expect(seqLt(r.ends[k - 1]!, r.starts[k]!)).toBe(true);
        },
      ),
    );
  });

  it("reports the most recently grown ranges first", () => {
    const r = new SeqRanges(8);
    r.add(100, 110);
    r.add(200, 210);
    r.add(300, 310);
    r.add(105, 120); // grows the first range last
    const out: number[] = [];
    expect(r.recent(out, 3)).toBe(3);
    expect(out.slice(0, 6)).toEqual([100, 120, 300, 310, 200, 210]);
  });
});

describe("ByteRing", () => {
  it("behaves as a FIFO with out-of-order writes, growing and wrapping", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("append", "consume", "ooo"), fc.nat(3000)), {
          maxLength: 60,
        }),
        (ops) => {
          const pool = new BufferPool();
          const ring = new ByteRing(10_000, pool);
          const model: number[] = [];
          let next = 0;
          for (const [op, n] of ops) {
            if (op === "append") {
              const data = new Uint8Array(n).map(() => next++ & 255);
              const took = ring.append(data, 0, n);
              expect(took).toBe(Math.min(n, 10_000 - model.length));
              for (let i = 0; i < took; i++) model.push(data[i]!);
            } else if (op === "consume") {
              const k = Math.min(n, model.length);
              const out = new Uint8Array(k);
              ring.readAt(0, out, 0, k);
              expect([...out]).toEqual(model.slice(0, k));
              ring.consume(k);
              model.splice(0, k);
              ring.release();
            } else {
              // Write ahead of the queue, then extend over it.
              const k = Math.min(n, 10_000 - model.length);
              const data = new Uint8Array(k).map(() => next++ & 255);
              ring.writeAt(ring.length, data, 0, k);
              ring.extend(k);
              for (const b of data) model.push(b);
            }
            expect(ring.length).toBe(model.length);
            expect(ring.storageBytes).toBeLessThanOrEqual(10_000);
          }
          const out = new Uint8Array(model.length);
          if (model.length > 0) ring.readAt(0, out, 0, model.length);
          expect([...out]).toEqual(model);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("holds no storage when empty", () => {
    const ring = new ByteRing(1 << 20, new BufferPool());
    expect(ring.allocated).toBe(false);
    ring.append(new Uint8Array(10), 0, 10);
    expect(ring.storageBytes).toBe(2048);
    ring.consume(10);
    ring.release();
    expect(ring.allocated).toBe(false);
  });
});

describe("SipHash-2-4", () => {
  it("matches the reference vectors", () => {
    const h = new SipHash(new Uint8Array(16).map((_, i) => i));
    h.hash(new Uint8Array(0));
    expect([h.hi.toString(16), h.lo.toString(16)]).toEqual(["726fdb47", "dd0e0e31"]);
    h.hash(new Uint8Array(15).map((_, i) => i));
    expect([h.hi.toString(16), h.lo.toString(16)]).toEqual(["a129ca61", "49be45e5"]);
    h.hash(new Uint8Array(8).map((_, i) => i));
    expect([h.hi.toString(16), h.lo.toString(16)]).toEqual(["93f5f579", "9a932462"]);
  });
});
