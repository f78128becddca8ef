// The Random conformance suite, for any Random driver:
//
//   randomConformance({ setup: async () => ({ random }) });

import { describe, expect, it } from "vitest";
import type { Random } from "./signature.js";

export interface RandomConformanceOptions<H extends { random: Random }> {
  readonly name?: string;
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
}

// Chi-square critical values at p = 1e-6 (a false alarm in a million runs).
const CHI2_1E6: Record<number, number> = { 9: 48.3, 15: 61.1, 255: 378.4 };

function chiSquare(counts: number[], expected: number): number {
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

export function randomConformance<H extends { random: Random }>(
  options: RandomConformanceOptions<H>,
): void {
  const run = (body: (r: Random) => void | Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h.random);
    } finally {
      await options.teardown?.(h);
    }
  };

  describe(`Random conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "fills buffers of every size and returns the same buffer",
      run((r) => {
        for (const size of [0, 1, 3, 16, 100, 1000, 4096, 5000, 65536, (1 << 20) + 7]) {
          const buf = new Uint8Array(size);
          expect(r.fill(buf)).toBe(buf);
          if (size >= 16) expect(buf.some((b) => b !== 0)).toBe(true);
        }
        expect(r.bytes(33)).toHaveLength(33);
      }),
    );

    it(
      "fills subarray views without touching bytes outside them",
      run((r) => {
        const buf = new Uint8Array(64);
        r.fill(buf.subarray(16, 48));
        expect(buf.subarray(0, 16).every((b) => b === 0)).toBe(true);
        expect(buf.subarray(48).every((b) => b === 0)).toBe(true);
      }),
    );

    it(
      "does not repeat itself",
      run((r) => {
        const seen = new Set<string>();
        for (let i = 0; i < 1000; i++) seen.add(Array.from(r.bytes(16)).join(","));
        expect(seen.size).toBe(1000);
      }),
    );

    it(
      "produces uniformly distributed bytes",
      run((r) => {
        const counts = new Array(256).fill(0);
        const data = r.bytes(256 * 400);
        for (const b of data) counts[b]++;
        expect(chiSquare(counts, 400)).toBeLessThan(CHI2_1E6[255]!);
      }),
    );

    it(
      "int(bound) stays in range and is unbiased, including bounds that do not divide 2^32",
      run((r) => {
        for (const bound of [10, 16]) {
          const counts = new Array(bound).fill(0);
          const n = bound * 2000;
          let outside = 0;
          for (let i = 0; i < n; i++) {
            const x = r.int(bound);
            if (Number.isInteger(x) && x >= 0 && x < bound) counts[x]++;
            else outside++;
          }
          expect(outside).toBe(0);
          expect(chiSquare(counts, 2000)).toBeLessThan(CHI2_1E6[bound - 1]!);
        }
        // A bound of 3·2^30 biases a plain modulo towards the low third; rejection removes it.
        const bound = 3 * 2 ** 30;
        let low = 0;
        for (let i = 0; i < 30_000; i++) if (r.int(bound) < 2 ** 30) low++;
        expect(Math.abs(low / 30_000 - 1 / 3)).toBeLessThan(0.02);
        expect(r.int(1)).toBe(0);
        const big = r.int(2 ** 53);
        expect(Number.isSafeInteger(big) || big === 2 ** 53 - 1).toBe(true);
      }),
    );

    it(
      "rejects bounds that are not positive safe integers",
      run((r) => {
        for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 60])
          expect(() => r.int(bad)).toThrow(RangeError);
      }),
    );

    it(
      "uint32 and float stay in range",
      run((r) => {
        let high = false;
        let outside = 0;
        for (let i = 0; i < 10_000; i++) {
          const u = r.uint32();
          if (!(Number.isInteger(u) && u >= 0 && u < 2 ** 32)) outside++;
          if (u >= 2 ** 31) high = true;
          const f = r.float();
          if (!(f >= 0 && f < 1)) outside++;
        }
        expect(outside).toBe(0);
        expect(high).toBe(true);
      }),
    );
  });
}
