// The Block conformance suite, for any Block driver or combinator, in this
// repository or published elsewhere:
//
//   blockConformance({ name: "mine", setup: async () => ({ block, disconnect, reopen }) });
//
// The device must have at least 64 sectors. A read-only device is tested for
// refusing writes; a read-write one for everything else.

import { isAtollError } from "@atoll/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Block } from "./signature.js";

export interface BlockHarness {
  readonly block: Block;
  /** Disconnects the device as its driver would; enables the "after disconnect" test. */
  disconnect?(): Promise<void>;
  /**
   * Disconnects, then connects a new device on the same storage; enables the
   * persistence test. The returned device is disconnected by `teardown` via the harness.
   */
  reopen?(): Promise<Block>;
}

export interface BlockConformanceOptions<H extends BlockHarness> {
  readonly name?: string;
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
  /** Runs of the randomized model test (default 25). */
  readonly propertyRuns?: number;
}

/** Deterministic contents for sector `n` of a test pattern `tag`. */
function pattern(size: number, n: number, tag: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (Math.imul(n + 1, 0x9e3779b1) ^ Math.imul(tag + 7, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6b43a9b5) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Asserts two byte arrays are equal, reporting the first difference (fast on large arrays). */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual?.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual![i] !== expected[i]) {
      throw new Error(`bytes differ at offset ${i}: got ${actual![i]}, expected ${expected[i]}`);
    }
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to reject");
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const error = await rejection(p);
  if (!isAtollError(error, code)) {
    throw new Error(`expected ${code}, got ${String((error as Error)?.message ?? error)}`, {
      cause: error,
    });
  }
}

export function blockConformance<H extends BlockHarness>(
  options: BlockConformanceOptions<H>,
): void {
  const run = (body: (h: H) => Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h);
    } finally {
      await options.teardown?.(h);
    }
  };
  const rw = (body: (h: H) => Promise<void>) =>
    run(async (h) => {
      if (!h.block.info().readWrite) return;
      await body(h);
    });

  describe(`Block conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "describes itself: power-of-two sectors, at least 64 of them",
      run(async ({ block }) => {
        const info = block.info();
        expect(Number.isInteger(Math.log2(info.sectorSize))).toBe(true);
        expect(Number.isSafeInteger(info.sectorCount)).toBe(true);
        expect(info.sectorCount).toBeGreaterThanOrEqual(64);
        expect(typeof info.readWrite).toBe("boolean");
      }),
    );

    it(
      "reads back what it wrote, through one buffer or several",
      rw(async ({ block }) => {
        const { sectorSize: s } = block.info();
        const one = pattern(s, 3, 1);
        await block.write(3, one);
        const two = [pattern(s * 2, 10, 2), pattern(s, 12, 3)];
        await block.write(10, two);
        const back = new Uint8Array(s);
        await block.read(3, back);
        expectBytes(back, one);
        const parts = [new Uint8Array(s), new Uint8Array(s * 2)];
        await block.read(10, parts);
        const whole = new Uint8Array(s * 3);
        whole.set(two[0]!);
        whole.set(two[1]!, s * 2);
        expectBytes(parts[0], whole.subarray(0, s));
        expectBytes(parts[1], whole.subarray(s));
      }),
    );

    it(
      "reads and writes the first and the last sector",
      rw(async ({ block }) => {
        const { sectorSize: s, sectorCount: n } = block.info();
        await block.write(0, pattern(s, 0, 4));
        await block.write(n - 1, pattern(s, n - 1, 4));
        const a = new Uint8Array(s);
        const b = new Uint8Array(s);
        await block.read(0, a);
        await block.read(n - 1, b);
        expectBytes(a, pattern(s, 0, 4));
        expectBytes(b, pattern(s, n - 1, 4));
      }),
    );

    it(
      "moves a large transfer intact",
      rw(async ({ block }) => {
        const { sectorSize: s, sectorCount: n } = block.info();
        const count = Math.min(n, Math.max(64, Math.floor((1 << 20) / s)));
        const data = pattern(s * count, 0, 5);
        await block.write(0, data);
        const back = new Uint8Array(data.length);
        await block.read(0, back);
        expectBytes(back, data);
      }),
    );

    it(
      "rejects requests outside the device with ATOLL_BLOCK_OUT_OF_RANGE",
      run(async ({ block }) => {
        const { sectorSize: s, sectorCount: n } = block.info();
        const buf = new Uint8Array(s);
        await expectCode(block.read(n, buf), "ATOLL_BLOCK_OUT_OF_RANGE");
        await expectCode(block.read(n - 1, new Uint8Array(2 * s)), "ATOLL_BLOCK_OUT_OF_RANGE");
        await expectCode(block.read(-1, buf), "ATOLL_BLOCK_OUT_OF_RANGE");
        await expectCode(block.read(1.5, buf), "ATOLL_BLOCK_OUT_OF_RANGE");
        await expectCode(block.read(Number.NaN, buf), "ATOLL_BLOCK_OUT_OF_RANGE");
        if (block.info().readWrite) {
          await expectCode(block.write(n, buf), "ATOLL_BLOCK_OUT_OF_RANGE");
          await expectCode(block.discard(n - 1, 2), "ATOLL_BLOCK_OUT_OF_RANGE");
          await expectCode(block.discard(0, -1), "ATOLL_BLOCK_OUT_OF_RANGE");
        }
      }),
    );

    it(
      "rejects empty and partial buffers with ATOLL_BLOCK_UNALIGNED",
      run(async ({ block }) => {
        const { sectorSize: s } = block.info();
        await expectCode(block.read(0, new Uint8Array(s - 1)), "ATOLL_BLOCK_UNALIGNED");
        await expectCode(block.read(0, new Uint8Array(0)), "ATOLL_BLOCK_UNALIGNED");
        await expectCode(
          block.read(0, [new Uint8Array(s), new Uint8Array(s + 1)]),
          "ATOLL_BLOCK_UNALIGNED",
        );
        if (block.info().readWrite) {
          await expectCode(block.write(0, new Uint8Array(s + 1)), "ATOLL_BLOCK_UNALIGNED");
        }
      }),
    );

    it(
      "writes nothing when any part of a write is bad",
      rw(async ({ block }) => {
        const { sectorSize: s, sectorCount: n } = block.info();
        const before = pattern(s, 20, 6);
        await block.write(20, before);
        await block.write(n - 1, pattern(s, n - 1, 6));
        // A good buffer followed by a partial one.
        await expectCode(
          block.write(20, [pattern(s, 20, 7), new Uint8Array(s / 2)]),
          "ATOLL_BLOCK_UNALIGNED",
        );
        // A write that starts on the device and runs past its end.
        await expectCode(block.write(n - 1, pattern(s * 2, n - 1, 7)), "ATOLL_BLOCK_OUT_OF_RANGE");
        const a = new Uint8Array(s);
        const b = new Uint8Array(s);
        await block.read(20, a);
        await block.read(n - 1, b);
        expectBytes(a, before);
        expectBytes(b, pattern(s, n - 1, 6));
      }),
    );

    it(
      "refuses writes and discards when read-only, and changes nothing",
      run(async ({ block }) => {
        if (block.info().readWrite) return;
        const { sectorSize: s } = block.info();
        const before = new Uint8Array(s);
        await block.read(5, before);
        await expectCode(block.write(5, pattern(s, 5, 8)), "ATOLL_BLOCK_READ_ONLY");
        await expectCode(block.discard(5, 1), "ATOLL_BLOCK_READ_ONLY");
        await block.flush();
        const after = new Uint8Array(s);
        await block.read(5, after);
        expectBytes(after, before);
      }),
    );

    it(
      "flushes, and keeps what was written across a flush",
      rw(async ({ block }) => {
        const { sectorSize: s } = block.info();
        await block.write(7, pattern(s, 7, 9));
        await block.flush();
        await block.flush();
        const back = new Uint8Array(s);
        await block.read(7, back);
        expectBytes(back, pattern(s, 7, 9));
      }),
    );

    it(
      "discards a range: reads still succeed and later writes stick",
      rw(async ({ block }) => {
        const { sectorSize: s } = block.info();
        await block.write(30, pattern(s * 4, 30, 10));
        await block.discard(31, 2);
        await block.discard(0, 0);
        const back = new Uint8Array(s * 4);
        await block.read(30, back);
        expectBytes(back.subarray(0, s), pattern(s * 4, 30, 10).subarray(0, s));
        await block.write(31, pattern(s, 31, 11));
        const one = new Uint8Array(s);
        await block.read(31, one);
        expectBytes(one, pattern(s, 31, 11));
      }),
    );

    it(
      "completes many concurrent writes and reads to distinct sectors",
      rw(async ({ block }) => {
        const { sectorSize: s } = block.info();
        await Promise.all(
          Array.from({ length: 48 }, (_, i) => block.write(i + 8, pattern(s, i + 8, 12))),
        );
        const backs = Array.from({ length: 48 }, () => new Uint8Array(s));
        await Promise.all(backs.map((b, i) => block.read(i + 8, b)));
        for (const [i, b] of backs.entries()) expectBytes(b, pattern(s, i + 8, 12));
      }),
    );

    it(
      "agrees with a model under random reads, writes and discards",
      rw(async ({ block }) => {
        const { sectorSize: s, sectorCount: n } = block.info();
        const window = Math.min(n, 64);
        const model = new Uint8Array(window * s);
        await block.write(0, model);
        const op = fc.oneof(
          fc.record({
            kind: fc.constant("write" as const),
            at: fc.nat(window - 1),
            len: fc.integer({ min: 1, max: 8 }),
            tag: fc.nat(1000),
          }),
          fc.record({
            kind: fc.constant("read" as const),
            at: fc.nat(window - 1),
            len: fc.integer({ min: 1, max: 8 }),
          }),
          fc.record({ kind: fc.constant("flush" as const) }),
        );
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 20 }), async (ops) => {
            for (const o of ops) {
              if (o.kind === "flush") {
                await block.flush();
                continue;
              }
              const len = Math.min(o.len, window - o.at);
              if (o.kind === "write") {
                const data = pattern(len * s, o.at, o.tag);
                await block.write(o.at, data);
                model.set(data, o.at * s);
              } else {
                const back = new Uint8Array(len * s);
                await block.read(o.at, back);
                expectBytes(back, model.subarray(o.at * s, (o.at + len) * s));
              }
            }
          }),
          { numRuns: options.propertyRuns ?? 25 },
        );
      }),
    );

    it(
      "keeps flushed data across a disconnect and reconnect",
      rw(async (h) => {
        if (h.reopen === undefined) return;
        const { sectorSize: s } = h.block.info();
        await h.block.write(40, pattern(s * 2, 40, 13));
        await h.block.flush();
        const again = await h.reopen();
        const back = new Uint8Array(s * 2);
        await again.read(40, back);
        expectBytes(back, pattern(s * 2, 40, 13));
      }),
    );

    it(
      "rejects every operation with ATOLL_DISCONNECTED once disconnected",
      run(async (h) => {
        if (h.disconnect === undefined) return;
        const { sectorSize: s } = h.block.info();
        await h.disconnect();
        await expectCode(h.block.read(0, new Uint8Array(s)), "ATOLL_DISCONNECTED");
        await expectCode(h.block.write(0, new Uint8Array(s)), "ATOLL_DISCONNECTED");
        await expectCode(h.block.flush(), "ATOLL_DISCONNECTED");
        await expectCode(h.block.discard(0, 1), "ATOLL_DISCONNECTED");
      }),
    );
  });
}
