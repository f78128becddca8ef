// Conformance suites for the clock signatures. Any driver, in this repository
// or published elsewhere, runs them with vitest:
//
//   timeConformance({ setup: async () => ({ time, clock, wait: (p) => p }) });

import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import type { MonotonicClock, Time, WallClock } from "./signatures.js";

export interface TimeHarness {
  readonly time: Time;
  /** The clock on the timeline the timers run on. */
  readonly clock: MonotonicClock;
  /** Lets time pass until `promise` settles: identity for real clocks, `world.run` for virtual ones. */
  wait<T>(promise: Promise<T>): Promise<T>;
  /** Tolerance in ns for "at least this long" checks (timer granularity of the host). */
  readonly slackNs?: number;
}

export interface ConformanceOptions<H> {
  readonly name?: string;
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
}

async function withHarness<H>(
  options: ConformanceOptions<H>,
  body: (h: H) => Promise<void>,
): Promise<void> {
  const harness = await options.setup();
  try {
    await body(harness);
  } finally {
    await options.teardown?.(harness);
  }
}

const MS = 1e6;

export function monotonicClockConformance<H extends { clock: MonotonicClock }>(
  options: ConformanceOptions<H>,
): void {
  describe(`MonotonicClock conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it("returns non-negative finite integers that never decrease", () =>
      withHarness(options, async ({ clock }) => {
        let last = clock.now();
        expect(Number.isSafeInteger(last)).toBe(true);
        expect(last).toBeGreaterThanOrEqual(0);
        for (let i = 0; i < 10_000; i++) {
          const t = clock.now();
          expect(t).toBeGreaterThanOrEqual(last);
          last = t;
        }
      }));
  });
}

export function wallClockConformance<H extends { clock: WallClock }>(
  options: ConformanceOptions<H>,
): void {
  describe(`WallClock conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it("reports a plausible epoch time and time zone offset", () =>
      withHarness(options, async ({ clock }) => {
        const now = clock.now();
        expect(Number.isFinite(now)).toBe(true);
        expect(now).toBeGreaterThanOrEqual(Date.UTC(1970, 0, 1));
        const tz = clock.tzOffsetSeconds();
        if (tz !== undefined) {
          expect(Number.isInteger(tz)).toBe(true);
          expect(Math.abs(tz)).toBeLessThanOrEqual(14 * 3600);
        }
      }));
  });
}

export function timeConformance<H extends TimeHarness>(options: ConformanceOptions<H>): void {
  describe(`Time conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it("sleeps at least the requested duration on its clock", () =>
      withHarness(options, async ({ time, clock, wait, slackNs = 0 }) => {
        const start = clock.now();
        await wait(time.sleep(20 * MS));
        expect(clock.now() - start).toBeGreaterThanOrEqual(20 * MS - slackNs);
      }));

    it("fires timers in deadline order, ties in scheduling order", () =>
      withHarness(options, async ({ time, wait }) => {
        const fired: string[] = [];
        time.setTimer(30 * MS, () => fired.push("c"));
        time.setTimer(10 * MS, () => fired.push("a1"));
        time.setTimer(10 * MS, () => fired.push("a2"));
        time.setTimer(20 * MS, () => fired.push("b"));
        await wait(time.sleep(60 * MS));
        expect(fired).toEqual(["a1", "a2", "b", "c"]);
      }));

    it("never fires a cancelled timer, and reports pending state", () =>
      withHarness(options, async ({ time, wait }) => {
        let fired = 0;
        const t1 = time.setTimer(5 * MS, () => fired++);
        const t2 = time.setTimer(5 * MS, () => fired++);
        expect(t1.pending).toBe(true);
        t1.cancel();
        t1.cancel();
        expect(t1.pending).toBe(false);
        await wait(time.sleep(30 * MS));
        expect(fired).toBe(1);
        expect(t2.pending).toBe(false);
        t2.cancel();
      }));

    it("runs a zero-delay timer later, never synchronously", () =>
      withHarness(options, async ({ time, wait }) => {
        let fired = false;
        time.setTimer(0, () => {
          fired = true;
        });
        expect(fired).toBe(false);
        await wait(time.sleep(5 * MS));
        expect(fired).toBe(true);
      }));

    it("rejects a sleep with an already aborted signal with ATOLL_ABORTED", () =>
      withHarness(options, async ({ time }) => {
        const controller = new AbortController();
        controller.abort();
        const error = await time.sleep(1000 * MS, controller.signal).catch((e: unknown) => e);
        expect(isAtollError(error, "ATOLL_ABORTED")).toBe(true);
      }));

    it("rejects a sleep aborted while waiting, promptly", () =>
      withHarness(options, async ({ time, clock, wait }) => {
        const controller = new AbortController();
        const start = clock.now();
        const sleeping = time.sleep(60_000 * MS, controller.signal);
        time.setTimer(5 * MS, () => controller.abort(new Error("enough")));
        const error = await wait(sleeping.catch((e: unknown) => e));
        expect(isAtollError(error, "ATOLL_ABORTED")).toBe(true);
        expect(clock.now() - start).toBeLessThan(60_000 * MS);
      }));
  });
}
