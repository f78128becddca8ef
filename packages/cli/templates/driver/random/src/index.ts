// __NAME__: a driver providing Random (@atoll/entropy). It starts as a ChaCha20
// keystream under a 32-byte key, to be replaced by your generator (a hardware
// RNG, a platform's CSPRNG); RandomSource provides the helpers. Its tests run
// the Random conformance suite, the same one every in-tree driver passes.

import { driver } from "@atoll/core";
import { ChaCha20Stream, Random, RandomSource } from "@atoll/entropy";

/** Random bytes from a ChaCha20 keystream under a 32-byte key (replace with your generator). */
export class __Name__Random extends RandomSource {
  readonly #stream: ChaCha20Stream;
  constructor(key: Uint8Array) {
    super();
    this.#stream = new ChaCha20Stream(key);
  }
  protected generate(out: Uint8Array): void {
    this.#stream.read(out);
  }
}

export const __camel__ = (key: Uint8Array) =>
  driver({
    name: "random.__NAME__",
    provides: Random,
    connect: () => new __Name__Random(key),
  });
