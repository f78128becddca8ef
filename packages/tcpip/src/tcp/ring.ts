// Byte ring buffers for the send and receive queues, with storage borrowed
// from a BufferPool only while they hold bytes: an idle connection owns no
// buffer, which is what keeps 10,000 idle connections small.

/** Recycles equally sized buffers so bulk transfers do not churn the allocator. */
export class BufferPool {
  readonly #free: Uint8Array[] = [];
  constructor(readonly maxFree = 64) {}

  take(size: number): Uint8Array {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      const b = free[i]!;
      if (b.length === size) {
        free[i] = free[free.length - 1]!;
        free.pop();
        return b;
      }
    }
    return new Uint8Array(size);
  }

  give(buffer: Uint8Array): void {
    if (this.#free.length < this.maxFree) this.#free.push(buffer);
  }

  get freeBuffers(): number {
    return this.#free.length;
  }
}

/**
 * A ring of `capacity` bytes. `length` bytes starting at `head` are the
 * queue; bytes beyond it may also be written (out-of-order data) and become
 * part of the queue when `extend` says they are contiguous.
 */
export class ByteRing {
  #buf: Uint8Array | undefined = undefined;
  #head = 0;
  length = 0;

  constructor(
    readonly capacity: number,
    readonly pool: BufferPool,
  ) {}

  get free(): number {
    return this.capacity - this.length;
  }

  get allocated(): boolean {
    return this.#buf !== undefined;
  }

  #storage(): Uint8Array {
    let b = this.#buf;
    if (b === undefined) {
      b = this.#buf = this.pool.take(this.capacity);
      this.#head = 0;
    }
    return b;
  }

  /** Copies src[from, from+n) to queue offset `at` (relative to head, at + n <= capacity). */
  writeAt(at: number, src: Uint8Array, from: number, n: number): void {
    if (n <= 0) return;
    const b = this.#storage();
    const cap = this.capacity;
    let pos = this.#head + at;
    if (pos >= cap) pos -= cap;
    const first = Math.min(n, cap - pos);
    b.set(first === src.length && from === 0 ? src : src.subarray(from, from + first), pos);
    if (first < n) b.set(src.subarray(from + first, from + n), 0);
  }

  /** Appends up to `n` bytes of src[from..]; returns how many fit. */
  append(src: Uint8Array, from: number, n: number): number {
    const take = Math.min(n, this.capacity - this.length);
    this.writeAt(this.length, src, from, take);
    this.length += take;
    return take;
  }

  /** Marks `n` more bytes (already written beyond the queue) as queued. */
  extend(n: number): void {
    this.length += n;
  }

  /** Copies queue bytes [at, at+n) to dst[to..]. */
  readAt(at: number, dst: Uint8Array, to: number, n: number): void {
    if (n <= 0) return;
    const b = this.#buf!;
    const cap = this.capacity;
    let pos = this.#head + at;
    if (pos >= cap) pos -= cap;
    const first = Math.min(n, cap - pos);
    dst.set(b.subarray(pos, pos + first), to);
    if (first < n) dst.set(b.subarray(0, n - first), to + first);
  }

  /** Drops `n` bytes from the front; returns the storage to the pool when nothing is left. */
  consume(n: number): void {
    if (n <= 0) return;
    this.length -= n;
    this.#head += n;
    if (this.#head >= this.capacity) this.#head -= this.capacity;
  }

  /** Returns the storage to the pool if the ring holds nothing (and nothing out of order). */
  release(): void {
    if (this.length === 0 && this.#buf !== undefined) {
      this.pool.give(this.#buf);
      this.#buf = undefined;
      this.#head = 0;
    }
  }

  /** Drops everything and returns the storage. */
  reset(): void {
    this.length = 0;
    if (this.#buf !== undefined) {
      this.pool.give(this.#buf);
      this.#buf = undefined;
    }
    this.#head = 0;
  }
}
