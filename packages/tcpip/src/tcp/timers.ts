// One Time-device timer for every connection of a stack. Each connection keeps
// its own deadlines (retransmission, delayed ACK, persist, keepalive,
// TIME-WAIT, ...) and one wake-up time, the earliest of them; connections sit
// in an intrusive binary heap by wake-up time, and the single device timer is
// armed for the heap's top. Deadlines that move later are not re-sorted (the
// connection just wakes early and re-files itself), so resetting the
// retransmission timer on every ACK costs a comparison.

import type { Time, Timer } from "@atoll/clock";

export interface TimerEntry {
  /** When the entry wants to run; +Infinity when it has nothing scheduled. */
  wakeAt: number;
  /** Position in the heap, -1 when not queued. */
  heapIndex: number;
}

export class TimerQueue<T extends TimerEntry> {
  readonly #heap: T[] = [];
  #timer: Timer | undefined = undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  #running = false;
  readonly #fireBound = () => this.#fire();

  constructor(
    private readonly time: Time,
    private readonly now: () => number,
    /** Runs an entry whose wake-up time has come; it calls `schedule` again for its next deadline. */
    private readonly run: (entry: T, now: number) => void,
    /** Wake-ups are rounded up to this many ns so that nearby deadlines share one device timer. */
    private readonly granularity: number,
  ) {}

  get size(): number {
    return this.#heap.length;
  }

  /** Makes sure `entry` runs no later than `at` (ns). */
  schedule(entry: T, at: number): void {
    if (this.granularity > 1) at = Math.ceil(at / this.granularity) * this.granularity;
    if (entry.heapIndex >= 0) {
      if (at >= entry.wakeAt) return;
      entry.wakeAt = at;
      this.#up(entry.heapIndex);
    } else {
      entry.wakeAt = at;
      entry.heapIndex = this.#heap.length;
      this.#heap.push(entry);
      this.#up(entry.heapIndex);
    }
    if (!this.#running && at < this.#armedAt) this.#arm();
  }

  /** Takes `entry` out of the queue. */
  remove(entry: T): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    entry.heapIndex = -1;
    entry.wakeAt = Number.POSITIVE_INFINITY;
    if (i < heap.length) {
      heap[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
  }

  /** Cancels the device timer and forgets every entry. */
  clear(): void {
    for (const e of this.#heap) {
      e.heapIndex = -1;
      e.wakeAt = Number.POSITIVE_INFINITY;
    }
    this.#heap.length = 0;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    const top = this.#heap[0];
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    if (top === undefined) return;
    this.#armedAt = top.wakeAt;
    this.#timer = this.time.setTimer(Math.max(0, top.wakeAt - this.now()), this.#fireBound);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    this.#running = true;
    try {
      const now = this.now();
      const heap = this.#heap;
      // Entries re-filed for `now` or earlier run again in this pass; bound the work per pass.
      for (let budget = heap.length * 2 + 16; budget > 0; budget--) {
        const top = heap[0];
        if (top === undefined || top.wakeAt > now) break;
        // Take it out and let it run; it files itself again for its next deadline.
        this.remove(top);
        this.run(top, now);
      }
    } finally {
      this.#running = false;
      this.#arm();
    }
  }

  #up(i: number): void {
    const heap = this.#heap;
    const e = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.wakeAt <= e.wakeAt) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = e;
    e.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.wakeAt < heap[l]!.wakeAt ? r : l;
      const child = heap[c]!;
      if (child.wakeAt >= e.wakeAt) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = e;
    e.heapIndex = i;
  }
}
