// A ChaCha20 keystream (RFC 8439) as a byte generator, for the seeded driver.
// The cipher is @noble/ciphers'; this file only walks the counter and nonce.

import { chacha20 } from "@noble/ciphers/chacha";

const BLOCK = 64;
const MAX_COUNTER = 2 ** 32;

export class ChaCha20Stream {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  #counter: number;
  #zeros = new Uint8Array(0);
  // Bytes of the current block not yet handed out (requests need not be block-aligned).
  #carry = new Uint8Array(BLOCK);
  #carryOffset = BLOCK;

  constructor(key: Uint8Array, nonce: Uint8Array = new Uint8Array(12), counter = 0) {
    if (key.length !== 32) throw new RangeError("ChaCha20 key must be 32 bytes");
    if (nonce.length !== 12) throw new RangeError("ChaCha20 nonce must be 12 bytes");
    this.#key = key.slice();
    this.#nonce = nonce.slice();
    this.#counter = counter;
  }

  /** Writes the next `out.length` keystream bytes. */
  read(out: Uint8Array): void {
    let at = 0;
    while (at < out.length && this.#carryOffset < BLOCK)
      out[at++] = this.#carry[this.#carryOffset++]!;
    const whole = Math.floor((out.length - at) / BLOCK);
    let done = 0;
    while (done < whole) {
      const n = Math.min(whole - done, MAX_COUNTER - this.#counter);
      const chunk = out.subarray(at, at + n * BLOCK);
      this.#keystream(chunk);
      at += chunk.length;
      done += n;
    }
    if (at < out.length) {
      this.#keystream(this.#carry);
      this.#carryOffset = 0;
      while (at < out.length) out[at++] = this.#carry[this.#carryOffset++]!;
    }
  }

  #keystream(out: Uint8Array): void {
    if (this.#zeros.length < out.length) this.#zeros = new Uint8Array(out.length);
    chacha20(this.#key, this.#nonce, this.#zeros.subarray(0, out.length), out, this.#counter);
    this.#counter += out.length / BLOCK;
    if (this.#counter >= MAX_COUNTER) {
      // The block counter is 32 bits: move to the next nonce rather than wrap.
      this.#counter = 0;
      for (let i = 0; i < 12 && ++this.#nonce[i]! === 256; i++) this.#nonce[i] = 0;
    }
  }
}
