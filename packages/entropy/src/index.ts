// @atoll/entropy: the Random signature, the Fortuna system driver and the
// deterministic seeded driver.

export { ChaCha20Stream } from "./chacha.js";
export {
  type Aes256Ctr,
  FortunaAccumulator,
  FortunaGenerator,
  MIN_POOL_SIZE,
  nobleAes256Ctr,
  POOL_COUNT,
  RandomNotSeededError,
  RESEED_INTERVAL_NS,
} from "./fortuna.js";
export { type Seed, SeededRandom, seededRandom, seedKey } from "./seeded.js";
export { Random } from "./signature.js";
export { RandomSource } from "./source.js";
export { FortunaRandom, type SystemRandomOptions, systemRandom } from "./system.js";
