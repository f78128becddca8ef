// Pooled frame buffers. A copy is an exact-length view over a reusable
// backing buffer; released views go back on a free list (LIFO, bounded) so a
// steady stream of same-sized frames reuses the same buffers and the same
// views: no allocation per frame.

/** Smallest backing buffer: a 1514-byte frame fits, so small and full frames share buffers. */
const MIN_BACKING = 2048;

export class FramePool {
  readonly #free: Uint8Array[] = [];
  readonly #maxFree: number;

  /** `maxFree` bounds the buffers kept for reuse (they are garbage once the list is full). */
  constructor(maxFree: number) {
    this.#maxFree = maxFree;
  }

  /** A pooled copy of `frame`. */
  copy(frame: Uint8Array): Uint8Array {
    const length = frame.length;
    let buf = this.#free.pop();
    if (buf === undefined || buf.buffer.byteLength < length) {
      buf = new Uint8Array(new ArrayBuffer(Math.max(length, MIN_BACKING)), 0, length);
    } else if (buf.length !== length) {
      buf = new Uint8Array(buf.buffer, 0, length);
    }
    buf.set(frame);
    return buf;
  }

  release(buf: Uint8Array): void {
    if (this.#free.length < this.#maxFree) this.#free.push(buf);
  }

  /** Buffers currently kept for reuse. */
  get free(): number {
    return this.#free.length;
  }

  clear(): void {
    this.#free.length = 0;
  }
}
