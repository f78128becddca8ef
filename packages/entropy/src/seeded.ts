// The seeded Random: a ChaCha20 keystream keyed by SHA-256 of the seed. The
// same seed gives the same bytes on every platform, for tests and simulations.
// Not for secrets: anyone who knows the seed knows every byte.

import { driver } from "@atoll/core";
import { sha256 } from "@noble/hashes/sha2";
import { ChaCha20Stream } from "./chacha.js";
import { Random } from "./signature.js";
import { RandomSource } from "./source.js";

export type Seed = number | bigint | string | Uint8Array;

const domain = new TextEncoder().encode("atoll.entropy.seeded/1\0");

export function seedKey(seed: Seed): Uint8Array {
  const bytes =
    seed instanceof Uint8Array ? seed : new TextEncoder().encode(`${typeof seed}:${String(seed)}`);
  const input = new Uint8Array(domain.length + bytes.length);
  input.set(domain);
  input.set(bytes, domain.length);
  return sha256(input);
}

export class SeededRandom extends RandomSource {
  readonly #stream: ChaCha20Stream;
  constructor(seed: Seed) {
    super(1024);
    this.#stream = new ChaCha20Stream(seedKey(seed));
  }
  protected generate(out: Uint8Array): void {
    this.#stream.read(out);
  }
}

export const seededRandom = (seed: Seed) =>
  driver({
    name: "random.seeded",
    provides: Random,
    connect: () => new SeededRandom(seed),
  });
