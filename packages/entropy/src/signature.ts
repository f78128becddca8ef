// The Random signature: cryptographically strong (system driver) or
// reproducible (seeded driver) random bytes, with integer helpers.

import { type Device, signature } from "@atoll/core";

export interface Random extends Device {
  /** Fills `buffer` with random bytes and returns it. */
  fill<T extends Uint8Array>(buffer: T): T;
  /** A new array of `length` random bytes. */
  bytes(length: number): Uint8Array;
  /** A uniform integer in [0, 2^32). */
  uint32(): number;
  /** A uniform integer in [0, bound); `bound` is a safe integer between 1 and 2^53. Unbiased. */
  int(bound: number): number;
  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number;
}
export const Random = signature<Random>()("atoll.random/1");
