// The system Random: Fortuna seeded from the host's CSPRNG
// (crypto.getRandomValues) and fed timing entropy from the monotonic clock on
// every refill, with a fresh host sample at most once a second.

import { MonotonicClock } from "@atoll/clock";
import { driver } from "@atoll/core";
import {
  type Aes256Ctr,
  FortunaAccumulator,
  FortunaGenerator,
  nobleAes256Ctr,
  POOL_COUNT,
} from "./fortuna.js";
import { Random } from "./signature.js";
import { RandomSource } from "./source.js";

const SOURCE_TIMING = 0;
const SOURCE_HOST = 1;
const HOST_SAMPLE_INTERVAL_NS = 1e9;

export interface SystemRandomOptions {
  /** The AES-256-CTR implementation (default @noble/ciphers; @atoll/entropy/node passes the host's). */
  readonly aes?: Aes256Ctr;
  /** Output buffered for small requests, in bytes (default 4096). */
  readonly bufferSize?: number;
}

export class FortunaRandom extends RandomSource {
  readonly #accumulator: FortunaAccumulator;
  readonly #clock: MonotonicClock;
  readonly #timing = new Float64Array(1);
  readonly #timingBytes = new Uint8Array(this.#timing.buffer);
  #pool = 0;
  #lastHostSample: number;

  constructor(clock: MonotonicClock, options: SystemRandomOptions = {}) {
    super(options.bufferSize);
    this.#clock = clock;
    this.#accumulator = new FortunaAccumulator(new FortunaGenerator(options.aes ?? nobleAes256Ctr));
    const seed = hostRandom(64);
    this.#accumulator.generator.reseed(seed);
    seed.fill(0);
    // Prime every pool so later reseeds draw on host entropy, not only timing.
    for (let i = 0; i < POOL_COUNT; i++) this.#accumulator.addEvent(SOURCE_HOST, i, hostRandom(32));
    this.#lastHostSample = clock.now();
  }

  get reseedCount(): number {
    return this.#accumulator.reseedCount;
  }

  protected generate(out: Uint8Array): void {
    const now = this.#clock.now();
    this.#timing[0] = now;
    this.#accumulator.addEvent(SOURCE_TIMING, this.#pool++, this.#timingBytes);
    if (now - this.#lastHostSample >= HOST_SAMPLE_INTERVAL_NS) {
      this.#lastHostSample = now;
      this.#accumulator.addEvent(SOURCE_HOST, this.#pool++, hostRandom(32));
    }
    this.#accumulator.maybeReseed(now);
    this.#accumulator.generator.generate(out);
  }
}

function hostRandom(length: number): Uint8Array {
  const out = new Uint8Array(length);
  crypto.getRandomValues(out);
  return out;
}

/** Fortuna CSPRNG seeded from the host. Needs a MonotonicClock for timing entropy and the reseed schedule. */
export const systemRandom = (options: SystemRandomOptions = {}) =>
  driver({
    name: "random.fortuna",
    provides: Random,
    needs: { clock: MonotonicClock },
    connect: ({ clock }) => new FortunaRandom(clock, options),
  });
