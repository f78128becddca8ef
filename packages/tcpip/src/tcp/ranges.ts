// A small sorted set of disjoint sequence-number ranges [start, end), bounded
// in size. The receiver uses one to track out-of-order data (what arrived
// beyond RCV.NXT, and which blocks to report in SACK options, most recent
// first); the sender uses one as its SACK scoreboard (RFC 6675 §4).

import { seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from "./seq.js";

export class SeqRanges {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  /** When each range last grew (a counter), so SACK reports the freshest blocks first. */
  readonly stamps: number[] = [];
  count = 0;
  #clock = 0;

  constructor(readonly limit: number) {}

  clear(): void {
    this.count = 0;
  }

  /**
   * Adds [start, end), merging with the ranges it touches. Returns false and
   * changes nothing when that would need more than `limit` ranges.
   */
  add(start: number, end: number): boolean {
    if (!seqLt(start, end)) return true;
    const n = this.count;
    const starts = this.starts;
    const ends = this.ends;
    // i: first range ending at or after start; j: last range starting at or before end.
    let i = 0;
    while (i < n && seqLt(ends[i]!, start)) i++;
    let j = i - 1;
    while (j + 1 < n && seqLe(starts[j + 1]!, end)) j++;
    const stamp = ++this.#clock;
    if (j < i) {
      if (n >= this.limit) return false;
      for (let k = n; k > i; k--) {
        starts[k] = starts[k - 1]!;
        ends[k] = ends[k - 1]!;
        this.stamps[k] = this.stamps[k - 1]!;
      }
      starts[i] = start;
      ends[i] = end;
      this.stamps[i] = stamp;
      this.count = n + 1;
      return true;
    }
    starts[i] = seqMin(start, starts[i]!);
    ends[i] = seqMax(end, ends[j]!);
    this.stamps[i] = stamp;
    const removed = j - i;
    if (removed > 0) {
      for (let k = i + 1; k + removed < n; k++) {
        starts[k] = starts[k + removed]!;
        ends[k] = ends[k + removed]!;
        this.stamps[k] = this.stamps[k + removed]!;
      }
      this.count = n - removed;
    }
    return true;
  }

  /** Forgets everything below `seq` (trimming a range that straddles it). */
  trimBelow(seq: number): void {
    const n = this.count;
    let drop = 0;
    while (drop < n && seqLe(this.ends[drop]!, seq)) drop++;
    if (drop > 0) {
      for (let k = 0; k + drop < n; k++) {
        this.starts[k] = this.starts[k + drop]!;
        this.ends[k] = this.ends[k + drop]!;
        this.stamps[k] = this.stamps[k + drop]!;
      }
      this.count = n - drop;
    }
    if (this.count > 0 && seqLt(this.starts[0]!, seq)) this.starts[0] = seq;
  }

  /** Removes and returns the end of the first range when it starts at or before `seq`, else -1. */
  shiftIfStartsBy(seq: number): number {
    if (this.count === 0 || seqGt(this.starts[0]!, seq)) return -1;
    const end = this.ends[0]!;
    this.trimBelow(end);
    return end;
  }

  /** Bytes covered within [from, to). */
  coveredIn(from: number, to: number): number {
    let total = 0;
    for (let k = 0; k < this.count; k++) {
      const s = seqMax(this.starts[k]!, from);
      const e = seqMin(this.ends[k]!, to);
      if (seqLt(s, e)) total += (e - s) >>> 0;
    }
    return total;
  }

  /** Bytes covered in total. */
  total(): number {
    let total = 0;
    for (let k = 0; k < this.count; k++) total += (this.ends[k]! - this.starts[k]!) >>> 0;
    return total;
  }

  /** The end of the range containing `seq`, or `seq` when no range contains it. */
  skip(seq: number): number {
    for (let k = 0; k < this.count; k++) {
      if (seqLe(this.starts[k]!, seq) && seqLt(seq, this.ends[k]!)) return this.ends[k]!;
    }
    return seq;
  }

  /** The start of the first range beginning after `seq`, or `fallback`. */
  nextStartAfter(seq: number, fallback: number): number {
    for (let k = 0; k < this.count; k++) if (seqGt(this.starts[k]!, seq)) return this.starts[k]!;
    return fallback;
  }

  /** True when [start, end) adds bytes the set does not hold. */
  wouldGrow(start: number, end: number): boolean {
    return this.coveredIn(start, end) < (end - start) >>> 0;
  }

  /** The highest end, or `fallback` when empty. */
  highest(fallback: number): number {
    return this.count === 0 ? fallback : this.ends[this.count - 1]!;
  }

  /**
   * Copies up to `max` ranges into out[2k], out[2k+1], the most recently grown
   * first (RFC 2018 §4); returns how many.
   */
  recent(out: number[], max: number): number {
    const n = Math.min(max, this.count);
    let lastStamp = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      let best = -1;
      let bestStamp = -1;
      for (let r = 0; r < this.count; r++) {
        const s = this.stamps[r]!;
        if (s < lastStamp && s > bestStamp) {
          best = r;
          bestStamp = s;
        }
      }
      if (best < 0) return k;
      out[2 * k] = this.starts[best]!;
      out[2 * k + 1] = this.ends[best]!;
      lastStamp = bestStamp;
    }
    return n;
  }

  /** True when seq lies in some range. */
  contains(seq: number): boolean {
    for (let k = 0; k < this.count; k++)
      if (seqGe(seq, this.starts[k]!) && seqLt(seq, this.ends[k]!)) return true;
    return false;
  }
}
