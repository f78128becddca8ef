// Virtual time: clocks and timers that move only when the simulation advances
// them. A unikernel bound to a VirtualTime runs the same way on every run, and
// a ten-minute timeout is reached in milliseconds.

import { AtollError, driver } from "@atoll/core";
import { MonotonicClock, Time, type Timer, WallClock } from "./signatures.js";
import { sleepWith } from "./sleep.js";

export interface VirtualTimeOptions {
  /** Wall-clock time at virtual zero, in ms since the epoch (default 2000-01-01T00:00:00Z). */
  readonly epochMs?: number;
  /** Reported time zone offset in seconds (default 0). */
  readonly tzOffsetSeconds?: number;
  /**
   * Yields to the host so promise chains settle between instants. The default
   * uses setImmediate, MessageChannel or setTimeout, whichever the host has.
   */
  readonly settle?: () => Promise<void>;
}

export interface RunOptions {
  /** Give up (throw) when virtual time would pass this many nanoseconds from now. */
  readonly maxNs?: number;
  /** Give up (throw) after this many distinct instants (default 10 million). */
  readonly maxSteps?: number;
}

/** Raised when a simulation cannot make progress or exceeds its limits. */
export class SimulationError extends AtollError {
  constructor(message: string) {
    super("ATOLL_SIMULATION", message);
  }
}

class VirtualTimer implements Timer {
  constructor(
    readonly deadline: number,
    readonly seq: number,
    public callback: (() => void) | undefined,
    private readonly world: VirtualTime,
  ) {}
  get pending(): boolean {
    return this.callback !== undefined;
  }
  cancel(): void {
    if (this.callback === undefined) return;
    this.callback = undefined;
    this.world._cancelled();
  }
}

const earlier = (a: VirtualTimer, b: VirtualTimer) =>
  a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

/** The simulation's clock: provides MonotonicClock, WallClock and Time drivers that share one timeline. */
export class VirtualTime {
  #now = 0;
  #seq = 0;
  #heap: VirtualTimer[] = [];
  #live = 0;
  #epochMs: number;
  #tz: number;
  #settle: () => Promise<void>;
  #firing = false;

  constructor(options: VirtualTimeOptions = {}) {
    this.#epochMs = options.epochMs ?? Date.UTC(2000, 0, 1);
    this.#tz = options.tzOffsetSeconds ?? 0;
    this.#settle = options.settle ?? hostYield();
  }

  /** Virtual nanoseconds since the simulation began. */
  now(): number {
    return this.#now;
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#live;
  }

  /** The deadline of the earliest pending timer, or undefined. */
  nextDeadline(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.deadline;
  }

  // ---- devices -------------------------------------------------------------------------

  readonly clock: MonotonicClock = { now: () => this.#now };
  readonly wallClock: WallClock = {
    now: () => this.#epochMs + this.#now / 1e6,
    tzOffsetSeconds: () => this.#tz,
  };
  readonly timers: Time = {
    setTimer: (ns, callback) => this.setTimer(ns, callback),
    sleep: (ns, signal) => sleepWith((n, cb) => this.setTimer(n, cb), ns, signal),
  };

  monotonic() {
    return driver({
      name: "clock.virtual-monotonic",
      provides: MonotonicClock,
      connect: () => this.clock,
    });
  }
  wall() {
    return driver({
      name: "clock.virtual-wall",
      provides: WallClock,
      connect: () => this.wallClock,
    });
  }
  time() {
    return driver({ name: "time.virtual", provides: Time, connect: () => this.timers });
  }

  setTimer(ns: number, callback: () => void): Timer {
    if (!(ns >= 0)) ns = 0;
    const timer = new VirtualTimer(this.#now + Math.round(ns), this.#seq++, callback, this);
    this.#push(timer);
    this.#live++;
    return timer;
  }

  /** @internal */
  _cancelled(): void {
    this.#live--;
  }

  // ---- driving the simulation ----------------------------------------------------------

  /**
   * Moves time forward by `ns`, firing due timers in deadline order (ties in
   * scheduling order) and letting promise chains settle after each instant.
   * A callback that throws stops the advance and the error propagates.
   */
  async advance(ns: number): Promise<void> {
    const target = this.#now + ns;
    await this.#settle();
    for (;;) {
      const next = this.nextDeadline();
      if (next === undefined || next > target) break;
      this.#fireInstant(next);
      await this.#settle();
    }
    this.#now = target;
  }

  /**
   * Like advance, but without yielding to the host between instants: for
   * callbacks that do all their work synchronously (and for benchmarks).
   */
  advanceSync(ns: number): void {
    const target = this.#now + ns;
    for (;;) {
      const next = this.nextDeadline();
      if (next === undefined || next > target) break;
      this.#fireInstant(next);
    }
    this.#now = target;
  }

  /** Fires timers until none is pending. Throws when the limits are exceeded (a timer that re-arms forever). */
  async runUntilIdle(options: RunOptions = {}): Promise<void> {
    const limit = this.#now + (options.maxNs ?? Number.POSITIVE_INFINITY);
    const maxSteps = options.maxSteps ?? 10_000_000;
    await this.#settle();
    for (let steps = 0; ; steps++) {
      const next = this.nextDeadline();
      if (next === undefined) return;
      if (next > limit || steps >= maxSteps) {
        throw new SimulationError(
          `still busy after ${steps} instants at ${this.#now}ns (${this.#live} timers pending)`,
        );
      }
      this.#fireInstant(next);
      await this.#settle();
    }
  }

  /**
   * Advances time until `promise` settles and returns its value: the way to
   * await something that needs virtual time to pass. Throws a SimulationError
   * when nothing is left that could settle it (a deadlock) or a limit is hit.
   */
  async run<T>(promise: Promise<T>, options: RunOptions = {}): Promise<T> {
    let settled = false;
    const observed = promise.then(
      (value) => {
        settled = true;
        return value;
      },
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    observed.catch(() => {});
    const limit = this.#now + (options.maxNs ?? Number.POSITIVE_INFINITY);
    const maxSteps = options.maxSteps ?? 10_000_000;
    await this.#settle();
    for (let steps = 0; !settled; steps++) {
      const next = this.nextDeadline();
      if (next === undefined) {
        throw new SimulationError(
          `deadlock: the awaited promise is pending and no timer is scheduled (at ${this.#now}ns)`,
        );
      }
      if (next > limit || steps >= maxSteps) {
        throw new SimulationError(
          `the awaited promise did not settle within the limits (at ${this.#now}ns)`,
        );
      }
      this.#fireInstant(next);
      await this.#settle();
    }
    return observed;
  }

  #fireInstant(instant: number): void {
    if (this.#firing) throw new SimulationError("advance() called from inside a timer callback");
    this.#firing = true;
    try {
      this.#now = instant;
      for (;;) {
        this.#dropCancelled();
        const top = this.#heap[0];
        if (top === undefined || top.deadline > instant) break;
        this.#pop();
        const callback = top.callback!;
        top.callback = undefined;
        this.#live--;
        callback();
      }
    } finally {
      this.#firing = false;
    }
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.callback === undefined) this.#pop();
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && earlier(heap[r]!, heap[l]!) ? r : l;
      if (!earlier(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

type HostGlobals = {
  setImmediate?: (callback: () => void) => unknown;
  MessageChannel?: typeof MessageChannel;
};

function hostYield(): () => Promise<void> {
  const g = globalThis as HostGlobals;
  if (typeof g.setImmediate === "function") {
    const setImmediate = g.setImmediate;
    return () => new Promise((resolve) => void setImmediate(resolve));
  }
  if (typeof g.MessageChannel === "function") {
    const channel = new g.MessageChannel();
    const waiting: Array<() => void> = [];
    channel.port1.onmessage = () => waiting.shift()?.();
    return () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        channel.port2.postMessage(0);
      });
  }
  return () => new Promise((resolve) => setTimeout(resolve, 0));
}
