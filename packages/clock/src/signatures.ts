// The clock signatures: a monotonic clock, a wall clock and timers.
// All durations are nanoseconds in a `number` (see @atoll/core's units):
// exact up to 2^53 ns, about 104 days from the clock's origin.

import { type Device, signature } from "@atoll/core";

/** Time that never goes backwards, for measuring intervals. */
export interface MonotonicClock extends Device {
  /** Nanoseconds since an arbitrary origin fixed when the device connects. Never decreases. */
  now(): number;
}
export const MonotonicClock = signature<MonotonicClock>()("atoll.clock.monotonic/1");

/** Calendar time, which may step when the host's clock is adjusted. */
export interface WallClock extends Device {
  /** Milliseconds since the Unix epoch, UTC (fractional when the host has better resolution). */
  now(): number;
  /** Local time's offset from UTC in seconds (east positive), or undefined when unknown. */
  tzOffsetSeconds(): number | undefined;
}
export const WallClock = signature<WallClock>()("atoll.clock.wall/1");

/** A scheduled callback. */
export interface Timer {
  /** Cancels the timer; a no-op when it already fired or was cancelled. */
  cancel(): void;
  /** True until the timer fires or is cancelled. */
  readonly pending: boolean;
}

/** Sleeping and timers, on the same timeline as the MonotonicClock. */
export interface Time extends Device {
  /** Resolves after `ns` nanoseconds; rejects with an AbortedError when `signal` aborts first. */
  sleep(ns: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` once after `ns` nanoseconds, unless cancelled. */
  setTimer(ns: number, callback: () => void): Timer;
}
export const Time = signature<Time>()("atoll.time/1");
