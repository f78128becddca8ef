// Fortuna (Ferguson, Schneier, Kohno: Cryptography Engineering, ch. 9), the
// design mirage-crypto-rng uses: an AES-256-CTR generator rekeyed after every
// request, and 32 SHA-256 entropy pools; pool i joins the reseed every 2^i
// reseeds, so an attacker who controls some sources cannot starve them all.
// The primitives are @noble's (or the host's AES, see Aes256Ctr).

import { AtollError } from "@atoll/core";
import { ctr } from "@noble/ciphers/aes";
import { sha256 } from "@noble/hashes/sha2";

/**
 * AES-256 in counter mode: writes the keystream for (key, 16-byte big-endian
 * counter block) into `head` and continues it into `tail` (head's length is a
 * multiple of 16, at most 1 MiB; tail is at most 48 bytes).
 */
export type Aes256Ctr = (
  key: Uint8Array,
  counter: Uint8Array,
  head: Uint8Array,
  tail: Uint8Array,
) => void;

/** Plaintext for keystream generation: encrypting zeros yields the keystream itself. Never written. */
export const ZEROS = new Uint8Array((1 << 20) + 32);

const nobleCounter = new Uint8Array(16);

export const nobleAes256Ctr: Aes256Ctr = (key, counter, head, tail) => {
  if (head.length > 0) ctr(key, counter).encrypt(ZEROS.subarray(0, head.length), head);
  nobleCounter.set(counter);
  addToCounter(nobleCounter, head.length / 16);
  ctr(key, nobleCounter).encrypt(ZEROS.subarray(0, tail.length), tail);
  nobleCounter.fill(0);
};

export class RandomNotSeededError extends AtollError {
  constructor() {
    super("ATOLL_RANDOM_NOT_SEEDED", "the Fortuna generator has not been seeded");
  }
}

const MAX_REQUEST = 1 << 20;
export const POOL_COUNT = 32;
export const MIN_POOL_SIZE = 64;
export const RESEED_INTERVAL_NS = 100e6;

const sha256d = (data: Uint8Array) => sha256(sha256(data));

/** The generator: key K and a 128-bit counter C. */
export class FortunaGenerator {
  readonly #key = new Uint8Array(32);
  readonly #counter = new Uint8Array(16);
  #seeded = false;
  readonly #aes: Aes256Ctr;
  readonly #tail = new Uint8Array(48);

  constructor(aes: Aes256Ctr = nobleAes256Ctr) {
    this.#aes = aes;
  }

  get seeded(): boolean {
    return this.#seeded;
  }

  /** K ← SHA-256d(K ‖ seed); C ← C + 1. */
  reseed(seed: Uint8Array): void {
    const input = new Uint8Array(32 + seed.length);
    input.set(this.#key);
    input.set(seed, 32);
    this.#key.set(sha256d(input));
    input.fill(0);
    this.#increment(1);
    this.#seeded = true;
  }

  /** Writes `out.length` bytes of output, rekeying after every 1 MiB and at the end. */
  generate(out: Uint8Array): void {
    if (!this.#seeded) throw new RandomNotSeededError();
    for (let at = 0; at < out.length; at += MAX_REQUEST) {
      this.#request(out.subarray(at, Math.min(out.length, at + MAX_REQUEST)));
    }
  }

  #request(out: Uint8Array): void {
    // Whole blocks go straight into `out`; a partial last block and the two
    // rekey blocks come from one small second call.
    const whole = out.length - (out.length % 16);
    const partial = out.length - whole;
    const tailLength = (partial > 0 ? 16 : 0) + 32;
    const tail = this.#tail.subarray(0, tailLength);
    this.#aes(this.#key, this.#counter, out.subarray(0, whole), tail);
    out.set(tail.subarray(0, partial), whole);
    // The two blocks after the output become the new key: earlier output cannot be recomputed from a later state.
    this.#key.set(tail.subarray(tailLength - 32));
    this.#increment(whole / 16 + tailLength / 16);
    tail.fill(0);
  }

  #increment(by: number): void {
    addToCounter(this.#counter, by);
  }
}

/** Big-endian 128-bit addition, the counter layout of NIST CTR mode. */
function addToCounter(counter: Uint8Array, by: number): void {
  let carry = by;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const sum = counter[i]! + (carry % 256);
    counter[i] = sum & 255;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
}

/** The accumulator: entropy events go to pools; reseeds draw on them by the Fortuna schedule. */
export class FortunaAccumulator {
  readonly generator: FortunaGenerator;
  #pools = Array.from({ length: POOL_COUNT }, () => sha256.create());
  #pool0Size = 0;
  #reseeds = 0;
  #lastReseed = Number.NEGATIVE_INFINITY;

  constructor(generator: FortunaGenerator) {
    this.generator = generator;
  }

  get reseedCount(): number {
    return this.#reseeds;
  }

  /** Adds an event from `source` (0-255) to `pool`; data up to 32 bytes as the design recommends. */
  addEvent(source: number, pool: number, data: Uint8Array): void {
    const p = pool % POOL_COUNT;
    const header = new Uint8Array([source & 255, Math.min(data.length, 255)]);
    const body = data.length > 32 ? data.subarray(0, 32) : data;
    this.#pools[p]!.update(header).update(body);
    if (p === 0) this.#pool0Size += header.length + body.length;
  }

  /** Reseeds from the pools when pool 0 holds enough and the last reseed is old enough. */
  maybeReseed(nowNs: number): boolean {
    if (this.#pool0Size < MIN_POOL_SIZE || nowNs - this.#lastReseed < RESEED_INTERVAL_NS)
      return false;
    this.#reseeds++;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < POOL_COUNT; i++) {
      if (this.#reseeds % 2 ** i !== 0) break;
      parts.push(this.#pools[i]!.digest());
      this.#pools[i] = sha256.create();
    }
    this.#pool0Size = 0;
    this.#lastReseed = nowNs;
    const seed = new Uint8Array(parts.length * 32);
    for (const [i, d] of parts.entries()) seed.set(d, i * 32);
    this.generator.reseed(seed);
    return true;
  }
}
