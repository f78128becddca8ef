// The fast sumWords (32-bit words through a DataView) against the RFC 1071 definition.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { finishChecksum, internetChecksum, sumWords } from "../src/wire/checksum.js";

function reference(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i]!;
    const lo = i + 1 < length ? bytes[offset + i + 1]! : 0;
    sum += (hi << 8) | lo;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

describe("tcp: checksum (sumWords)", () => {
  it("matches the RFC 1071 definition for any bytes, offset and length", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(7),
        fc.nat(40),
        fc.nat(3000),
        (data, pad, start, len) => {
          // Place the data at an arbitrary byteOffset inside a larger buffer.
          const backing = new Uint8Array(data.length + pad + 8);
          const view = backing.subarray(pad, pad + data.length);
          view.set(data);
          const offset = Math.min(start, data.length);
          const length = Math.min(len, data.length - offset);
          expect(finishChecksum(sumWords(view, offset, length))).toBe(
            reference(view, offset, length),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a segment carrying its checksum sums to zero", () => {
    const b = new Uint8Array(1501).map((_, i) => (i * 37) & 255);
    b[10] = 0;
    b[11] = 0;
    const c = internetChecksum(b);
    b[10] = c >> 8;
    b[11] = c & 255;
    expect(internetChecksum(b)).toBe(0);
  });
});
