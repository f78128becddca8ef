// A free list of equal-sized frame buffers, so that steady-state sending
// allocates nothing: a buffer is taken for a segment and given back once the
// link has copied the frame. The list is bounded; extra buffers are left to
// the garbage collector.

export class BufferPool {
  readonly #free: Uint8Array[] = [];
  #allocated = 0;

  constructor(
    /** Bytes per buffer. */
    readonly bufferSize: number,
    /** Most buffers kept on the free list. */
    readonly maxFree = 256,
  ) {}

  take(): Uint8Array {
    const buffer = this.#free.pop();
    if (buffer !== undefined) return buffer;
    this.#allocated++;
    return new Uint8Array(this.bufferSize);
  }

  give(buffer: Uint8Array): void {
    if (buffer.length === this.bufferSize && this.#free.length < this.maxFree)
      this.#free.push(buffer);
  }

  /** Buffers created over the pool's life (a steady state stops this from growing). */
  get allocated(): number {
    return this.#allocated;
  }

  get free(): number {
    return this.#free.length;
  }
}
