// System clocks: the host's monotonic time (performance.now), wall time (Date)
// and timers (setTimeout). These are the only places in Atoll's portable code
// that read the host's time.

import { driver } from "@atoll/core";
import { MonotonicClock, Time, type Timer, WallClock } from "./signatures.js";
import { sleepWith } from "./sleep.js";

/** performance.now() in nanoseconds, relative to when the device connected. */
export const systemMonotonicClock = () =>
  driver({
    name: "clock.system-monotonic",
    provides: MonotonicClock,
    connect() {
      const origin = performance.now();
      let last = 0;
      return {
        now() {
          // performance.now() is monotonic by specification; the guard keeps the promise if a host is not.
          const t = Math.round((performance.now() - origin) * 1e6);
          if (t > last) last = t;
          return last;
        },
      };
    },
  });

export const systemWallClock = () =>
  driver({
    name: "clock.system-wall",
    provides: WallClock,
    connect: () => ({
      now: () => Date.now(),
      tzOffsetSeconds: () => -new Date().getTimezoneOffset() * 60,
    }),
  });

class HostTimer implements Timer {
  #handle: ReturnType<typeof setTimeout> | undefined;
  constructor(ns: number, callback: () => void, live: Set<HostTimer>) {
    live.add(this);
    this.#handle = setTimeout(
      () => {
        this.#handle = undefined;
        live.delete(this);
        callback();
      },
      Math.max(0, ns / 1e6),
    );
    this.#live = live;
  }
  #live: Set<HostTimer>;
  get pending(): boolean {
    return this.#handle !== undefined;
  }
  cancel(): void {
    if (this.#handle === undefined) return;
    clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#live.delete(this);
  }
}

/** setTimeout-based timers (millisecond granularity on Node). Disconnect cancels what is pending. */
export const systemTime = () => {
  const live = new Set<HostTimer>();
  return driver({
    name: "time.system",
    provides: Time,
    connect() {
      const setTimer = (ns: number, callback: () => void): Timer =>
        new HostTimer(ns, callback, live);
      return {
        setTimer,
        sleep: (ns: number, signal?: AbortSignal) => sleepWith(setTimer, ns, signal),
      };
    },
    disconnect() {
      for (const timer of [...live]) timer.cancel();
    },
  });
};
