// Single-producer, single-consumer byte rings in shared memory: the only way
// bytes cross the boundary. Each side keeps its own counter privately and
// publishes it with an atomic store; it only ever *reads* the other side's
// counter, and checks it, so a corrupt peer can waste its own ring but never
// make this side read or write outside the ring. Layout: README.md, "Rings".

import { RING_HEADER_BYTES, RING_WRAP, type RingPlace, RingWord } from "./abi.js";

const align4 = (n: number) => (n + 3) & ~3;

function checkPlace(memory: SharedArrayBuffer, [offset, capacity]: RingPlace): void {
  if (
    !Number.isInteger(offset) ||
    !Number.isInteger(capacity) ||
    offset % 4 !== 0 ||
    capacity < 64 ||
    (capacity & (capacity - 1)) !== 0 ||
    offset < 0 ||
    offset + RING_HEADER_BYTES + capacity > memory.byteLength
  ) {
    throw new RangeError(`invalid ring place [${offset}, ${capacity}]`);
  }
}

class RingView {
  protected readonly words: Int32Array;
  protected readonly u32: Uint32Array;
  protected readonly bytes: Uint8Array;
  protected readonly base: number;
  protected readonly data: number;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(memory: SharedArrayBuffer, place: RingPlace) {
    checkPlace(memory, place);
    this.words = new Int32Array(memory);
    this.u32 = new Uint32Array(memory);
    this.bytes = new Uint8Array(memory);
    this.base = place[0] >> 2;
    this.data = place[0] + RING_HEADER_BYTES;
    this.capacity = place[1];
    this.mask = place[1] - 1;
  }

  /** The ring's flags word (meaning depends on the ring). */
  get flags(): number {
    return Atomics.load(this.words, this.base + RingWord.flags);
  }
  setFlag(bit: number): void {
    Atomics.or(this.words, this.base + RingWord.flags, bit);
  }
  clearFlag(bit: number): void {
    Atomics.and(this.words, this.base + RingWord.flags, ~bit);
  }
  /** The producer's drop counter, for entries it could not enqueue. */
  get drops(): number {
    return Atomics.load(this.words, this.base + RingWord.drops) >>> 0;
  }
}

export class RingProducer extends RingView {
  #tail: number;

  constructor(memory: SharedArrayBuffer, place: RingPlace) {
    super(memory, place);
    this.#tail = Atomics.load(this.words, this.base + RingWord.tail) >>> 0;
  }

  /** Bytes that can be written now, or -1 when the consumer's counter is impossible. */
  free(): number {
    const head = Atomics.load(this.words, this.base + RingWord.head) >>> 0;
    const used = (this.#tail - head) >>> 0;
    return used > this.capacity ? -1 : this.capacity - used;
  }

  /** True when nothing written is left unconsumed. */
  get empty(): boolean {
    return Atomics.load(this.words, this.base + RingWord.head) >>> 0 === this.#tail;
  }

  /** The largest payload a single entry can carry in this ring. */
  get maxPayload(): number {
    return (this.capacity >> 1) - 4;
  }

  /**
   * Appends one entry whose payload is `head` followed by `body`. Returns false,
   * writing nothing, when it does not fit now.
   */
  push(head: Uint8Array, body?: Uint8Array): boolean {
    const length = head.length + (body?.length ?? 0);
    if (length > this.maxPayload) return false;
    const need = 4 + align4(length);
    const free = this.free();
    if (free < 0) return false;
    let pos = this.#tail & this.mask;
    const contiguous = this.capacity - pos;
    if (need > contiguous) {
      if (free < contiguous + need) return false;
      this.u32[(this.data + pos) >> 2] = RING_WRAP;
      this.#tail = (this.#tail + contiguous) >>> 0;
      pos = 0;
    } else if (free < need) {
      return false;
    }
    const at = this.data + pos;
    this.u32[at >> 2] = length;
    this.bytes.set(head, at + 4);
    if (body !== undefined) this.bytes.set(body, at + 4 + head.length);
    this.#tail = (this.#tail + need) >>> 0;
    Atomics.store(this.words, this.base + RingWord.tail, this.#tail | 0);
    return true;
  }

  /** Counts an entry the producer had to drop (the consumer reads it as statistics). */
  countDrop(): void {
    Atomics.add(this.words, this.base + RingWord.drops, 1);
  }
}

export class RingConsumer extends RingView {
  #head: number;
  protected readonly maxEntry: number;
  /** Format violations seen (bad length, impossible counter); each one dropped what was queued. */
  errors = 0;
  lastError: string | undefined;

  /** `maxEntry` bounds a valid entry's payload. */
  constructor(memory: SharedArrayBuffer, place: RingPlace, maxEntry: number) {
    super(memory, place);
    this.#head = Atomics.load(this.words, this.base + RingWord.head) >>> 0;
    this.maxEntry = Math.min(maxEntry, (place[1] >> 1) - 4);
  }

  /** The entry's payload as the visitor sees it: a view into the ring. */
  protected entry(at: number, length: number): Uint8Array {
    return this.bytes.subarray(at, at + length);
  }

  /** True when an entry (or a violation) is waiting. */
  get pending(): boolean {
    return Atomics.load(this.words, this.base + RingWord.tail) >>> 0 !== this.#head;
  }

  /**
   * Hands each waiting entry to `visit` (a view valid only during the call), at most
   * `budget` of them. `visit` returning false stops before that entry, leaving it queued.
   * Returns the number of entries consumed.
   */
  drain(visit: (entry: Uint8Array) => boolean | void, budget = Number.POSITIVE_INFINITY): number {
    const tail = Atomics.load(this.words, this.base + RingWord.tail) >>> 0;
    let used = (tail - this.#head) >>> 0;
    if (used > this.capacity || used % 4 !== 0)
      return this.#violation(tail, `impossible producer counter (${used} bytes queued)`);
    let count = 0;
    while (used >= 4 && count < budget) {
      const pos = this.#head & this.mask;
      const length = this.u32[(this.data + pos) >> 2]!;
      if (length === RING_WRAP) {
        const skip = this.capacity - pos;
        if (skip > used) return this.#violation(tail, "wrap marker past the producer counter");
        this.#head = (this.#head + skip) >>> 0;
        used -= skip;
        continue;
      }
      const need = 4 + align4(length);
      if (length > this.maxEntry) return this.#violation(tail, `entry of ${length} bytes`);
      if (need > used || need > this.capacity - pos)
        return this.#violation(tail, `entry of ${length} bytes overruns the ring`);
      if (visit(this.entry(this.data + pos + 4, length)) === false) break;
      this.#head = (this.#head + need) >>> 0;
      used -= need;
      count++;
      Atomics.store(this.words, this.base + RingWord.head, this.#head | 0);
    }
    return count;
  }

  #violation(tail: number, reason: string): number {
    this.errors++;
    this.lastError = reason;
    // Everything queued is suspect: drop it and start over from the producer's counter.
    this.#head = tail;
    Atomics.store(this.words, this.base + RingWord.head, this.#head | 0);
    return 0;
  }
}

/**
 * A consumer that copies each entry out of shared memory before the visitor
 * sees it, so the producer cannot change it while it is being checked: the
 * tender reads the image's rings so.
 */
export class CopyingRingConsumer extends RingConsumer {
  readonly #scratch: Uint8Array;

  constructor(memory: SharedArrayBuffer, place: RingPlace, maxEntry: number) {
    super(memory, place, maxEntry);
    this.#scratch = new Uint8Array(this.maxEntry);
  }

  protected override entry(at: number, length: number): Uint8Array {
    const copy = this.#scratch.subarray(0, length);
    copy.set(this.bytes.subarray(at, at + length));
    return copy;
  }
}
