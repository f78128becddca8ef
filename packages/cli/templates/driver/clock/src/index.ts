// __NAME__: a driver providing MonotonicClock (@atoll/clock). It starts as a
// clock over a nanosecond source that it keeps from going backwards, to be
// replaced by your hardware's counter. Its tests run the MonotonicClock
// conformance suite, the same one every in-tree driver passes.

import { MonotonicClock } from "@atoll/clock";
import { driver } from "@atoll/core";

/** A monotonic clock over a nanosecond source (replace `source` with your hardware's). */
export class __Name__Clock implements MonotonicClock {
  #last = 0;
  constructor(private readonly source: () => number) {}
  now(): number {
    const t = Math.round(this.source());
    if (t > this.#last) this.#last = t;
    return this.#last;
  }
}

export const __camel__ = (source: () => number) =>
  driver({
    name: "clock.__NAME__",
    provides: MonotonicClock,
    connect: () => new __Name__Clock(source),
  });
