// The fast sumWords (SIMD WebAssembly, or 32-bit words through a DataView
// where WebAssembly is unavailable) against the RFC 1071 definition.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  finishChecksum,
  internetChecksum,
  sumWords,
  useWasmChecksum,
} from "../src/wire/checksum.js";

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

describe.each([
  ["WebAssembly", true],
  ["JavaScript", false],
])("tcp: checksum (sumWords, %s)", (_name, wasm) => {
  afterAll(() => {
    useWasmChecksum(true);
  });

  it("runs on the intended path", () => {
    // Node has had WebAssembly SIMD since 16.4; the fallback is forced off for the second run.
    expect(useWasmChecksum(wasm)).toBe(wasm);
  });

  it("matches the RFC 1071 definition for any bytes, offset and length", () => {
    useWasmChecksum(wasm);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 3000 }),
          // Runs of 0xff: lane and fold overflows.
          fc.nat(70_000).map((n) => new Uint8Array(n).fill(0xff)),
        ),
        fc.nat(7),
        fc.nat(40),
        fc.nat(70_000),
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
    useWasmChecksum(wasm);
    const b = new Uint8Array(1501).map((_, i) => (i * 37) & 255);
    b[10] = 0;
    b[11] = 0;
    const c = internetChecksum(b);
    b[10] = c >> 8;
    b[11] = c & 255;
    expect(internetChecksum(b)).toBe(0);
  });
});
