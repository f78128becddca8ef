// The helpers every Random driver shares, over one primitive: generate bytes.
// Small requests are served from a buffer so that a 4-byte ISN costs a copy,
// not a cipher invocation; handed-out bytes are wiped from the buffer.

import type { Random } from "./signature.js";

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;

export abstract class RandomSource implements Random {
  readonly #buffer: Uint8Array;
  #offset: number;
  readonly #word = new Uint8Array(4);
  readonly #words = new DataView(this.#word.buffer);

  constructor(bufferSize = 4096) {
    this.#buffer = new Uint8Array(bufferSize);
    this.#offset = bufferSize;
  }

  /** Writes `out.length` fresh random bytes into `out`. */
  protected abstract generate(out: Uint8Array): void;

  fill<T extends Uint8Array>(buffer: T): T {
    const size = this.#buffer.length;
    let written = 0;
    if (buffer.length >= size / 4) {
      // Large requests bypass the buffer, after draining it so a stream generator's output order holds.
      written = this.#drain(buffer);
      this.generate(buffer.subarray(written));
      return buffer;
    }
    while (written < buffer.length) {
      if (this.#offset === size) {
        this.generate(this.#buffer);
        this.#offset = 0;
      }
      const take = Math.min(buffer.length - written, size - this.#offset);
      const end = this.#offset + take;
      buffer.set(this.#buffer.subarray(this.#offset, end), written);
      this.#buffer.fill(0, this.#offset, end);
      this.#offset = end;
      written += take;
    }
    return buffer;
  }

  #drain(buffer: Uint8Array): number {
    const take = Math.min(buffer.length, this.#buffer.length - this.#offset);
    const end = this.#offset + take;
    buffer.set(this.#buffer.subarray(this.#offset, end));
    this.#buffer.fill(0, this.#offset, end);
    this.#offset = end;
    return take;
  }

  bytes(length: number): Uint8Array {
    return this.fill(new Uint8Array(length));
  }

  uint32(): number {
    this.fill(this.#word);
    return this.#words.getUint32(0);
  }

  int(bound: number): number {
    if (!Number.isSafeInteger(bound) && bound !== TWO_53) {
      throw new RangeError(`int(bound): bound must be an integer between 1 and 2^53, got ${bound}`);
    }
    if (bound < 1) throw new RangeError(`int(bound): bound must be at least 1, got ${bound}`);
    if (bound <= TWO_32) {
      // Rejection sampling: discard the top values that would bias the modulo.
      const limit = TWO_32 - (TWO_32 % bound);
      for (;;) {
        const x = this.uint32();
        if (x < limit) return x % bound;
      }
    }
    const limit = TWO_53 - (TWO_53 % bound);
    for (;;) {
      const x = this.#uint53();
      if (x < limit) return x % bound;
    }
  }

  float(): number {
    return this.#uint53() / TWO_53;
  }

  #uint53(): number {
    const hi = this.uint32() >>> 11; // 21 bits
    return hi * TWO_32 + this.uint32();
  }
}
