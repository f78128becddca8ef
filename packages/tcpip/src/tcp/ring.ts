// Byte ring buffers for the send and receive queues. A ring borrows storage
// from a BufferPool only while it holds bytes, starts small and doubles up to
// its capacity: an idle connection owns no buffer and a short exchange a few
// KiB, which is what keeps 10,000 idle connections small.

/**
 * Recycles buffers by size so bulk transfers do not churn the allocator. It
 * keeps a few buffers per size (busy connections), not one per idle connection.
 */
export class BufferPool {
  readonly #free = new Map<number, Uint8Array[]>();
  #bytes = 0;
  /** `maxBytes`: how much free storage the pool may keep; `perSize`: buffers kept per size. */
  constructor(
    readonly maxBytes = 4 * 1024 * 1024,
    readonly perSize = 16,
  ) {}

  take(size: number): Uint8Array {
    const list = this.#free.get(size);
    const b = list?.pop();
    if (b !== undefined) {
      this.#bytes -= size;
      return b;
    }
    return new Uint8Array(size);
  }

  give(buffer: Uint8Array): void {
    const size = buffer.length;
    if (this.#bytes + size > this.maxBytes) return;
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, (list = []));
    if (list.length >= this.perSize) return;
    list.push(buffer);
    this.#bytes += size;
  }

  /** Bytes held for reuse. */
  get freeBytes(): number {
    return this.#bytes;
  }
}

const MIN_STORAGE = 2048;

/**
 * A ring of at most `capacity` bytes. `length` bytes starting at `head` are
 * the queue; bytes beyond it may also be written (out-of-order data) and
 * become part of the queue when `extend` says they are contiguous.
 */
export class ByteRing {
  #buf: Uint8Array | undefined = undefined;
  #size = 0;
  #head = 0;
  /** Bytes from head that may hold data (queue plus out-of-order data). */
  #extent = 0;
  /** The storage size used last time, so a busy ring gets a big buffer back at once. */
  #hint = MIN_STORAGE;
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

  /** Bytes of storage currently borrowed. */
  get storageBytes(): number {
    return this.#size;
  }

  /** Makes the storage hold at least `need` bytes from head. */
  #reserve(need: number): Uint8Array {
    let b = this.#buf;
    if (b !== undefined && need <= this.#size) return b;
    let size = b === undefined ? Math.max(this.#hint, MIN_STORAGE) : this.#size * 2;
    while (size < need) size *= 2;
    if (size > this.capacity && need <= this.capacity) size = this.capacity;
    const next = this.pool.take(size);
    if (b !== undefined) {
      // Linearise what we hold into the new storage.
      const n = this.#extent;
      const first = Math.min(n, this.#size - this.#head);
      next.set(b.subarray(this.#head, this.#head + first), 0);
      if (first < n) next.set(b.subarray(0, n - first), first);
      this.pool.give(b);
    }
    this.#buf = b = next;
    this.#size = size;
    this.#hint = size;
    this.#head = 0;
    return b;
  }

  /** Copies src[from, from+n) to queue offset `at` (relative to head, at + n <= capacity). */
  writeAt(at: number, src: Uint8Array, from: number, n: number): void {
    if (n <= 0) return;
    const end = at + n;
    const b = this.#reserve(end);
    if (end > this.#extent) this.#extent = end;
    const size = this.#size;
    let pos = this.#head + at;
    if (pos >= size) pos -= size;
    const first = Math.min(n, size - pos);
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
    const size = this.#size;
    let pos = this.#head + at;
    if (pos >= size) pos -= size;
    const first = Math.min(n, size - pos);
    dst.set(b.subarray(pos, pos + first), to);
    if (first < n) dst.set(b.subarray(0, n - first), to + first);
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    if (n <= 0) return;
    this.length -= n;
    this.#extent = Math.max(0, this.#extent - n);
    this.#head += n;
    if (this.#head >= this.#size) this.#head -= this.#size;
  }

  /** Returns the storage to the pool if the ring holds nothing (and nothing out of order). */
  release(): void {
    if (this.length === 0 && this.#extent === 0 && this.#buf !== undefined) this.reset();
  }

  /** Drops everything and returns the storage. */
  reset(): void {
    this.length = 0;
    this.#extent = 0;
    if (this.#buf !== undefined) {
      this.pool.give(this.#buf);
      this.#buf = undefined;
      this.#size = 0;
    }
    this.#head = 0;
  }
}
