// The Console conformance suite, for any Console driver:
//
//   consoleConformance({ setup: async () => ({ console, written: () => bytes, feed, endInput }) });

import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import type { Console } from "./signature.js";

export interface ConsoleHarness {
  readonly console: Console;
  /** What reached the host so far (after flush). */
  written(): Uint8Array | Promise<Uint8Array>;
  /** Supplies input as the host would; the suite skips input tests without it. */
  feed?(data: Uint8Array): void;
  endInput?(): void;
}

export interface ConsoleConformanceOptions<H extends ConsoleHarness> {
  readonly name?: string;
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

export function consoleConformance<H extends ConsoleHarness>(
  options: ConsoleConformanceOptions<H>,
): void {
  const run = (body: (h: H) => Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h);
    } finally {
      await options.teardown?.(h);
    }
  };

  describe(`Console conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "writes text as UTF-8 and bytes as they are, in order",
      run(async (h) => {
        h.console.write("héllo ");
        h.console.write(new Uint8Array([0xe2, 0x9c, 0x93]));
        h.console.write(" wörld\n");
        await h.console.flush();
        expect(text(await h.written())).toBe("héllo ✓ wörld\n");
      }),
    );

    it(
      "keeps a large amount of output intact",
      run(async (h) => {
        const line = `${"x".repeat(99)}\n`;
        for (let i = 0; i < 2000; i++) h.console.write(line);
        await h.console.flush();
        const out = await h.written();
        expect(out.length).toBe(200_000);
      }),
    );

    it(
      "delivers input in order and ends when the input ends",
      run(async (h) => {
        if (h.feed === undefined || h.endInput === undefined) return;
        const reading = (async () => {
          const chunks: string[] = [];
          for await (const chunk of h.console.input()) chunks.push(text(chunk));
          return chunks.join("");
        })();
        h.feed(new TextEncoder().encode("one\n"));
        h.feed(new TextEncoder().encode("two\n"));
        h.endInput();
        expect(await reading).toBe("one\ntwo\n");
      }),
    );

    it(
      "allows one input reader at a time",
      run(async (h) => {
        if (h.feed === undefined || h.endInput === undefined) return;
        const first = h.console.input()[Symbol.asyncIterator]();
        const pending = first.next();
        const second = h.console.input()[Symbol.asyncIterator]();
        const error = await second.next().catch((e: unknown) => e);
        expect(isAtollError(error, "ATOLL_CONSOLE_INPUT_BUSY")).toBe(true);
        h.endInput();
        await pending;
      }),
    );
  });
}
