// @atoll/entropy/node: the system Random with the host's AES (OpenSSL, with
// AES-NI where the CPU has it) as Fortuna's block cipher: same design, much
// faster bulk output than AES in JavaScript.

import { createCipheriv } from "node:crypto";
import { type Aes256Ctr, ZEROS } from "./fortuna.js";
import { systemRandom as portableSystemRandom, type SystemRandomOptions } from "./system.js";

export const nativeAes256Ctr: Aes256Ctr = (key, counter, head, tail) => {
  const cipher = createCipheriv("aes-256-ctr", key, counter);
  if (head.length > 0) head.set(cipher.update(ZEROS.subarray(0, head.length)));
  const rest = cipher.update(ZEROS.subarray(0, tail.length));
  tail.set(rest);
  rest.fill(0);
};

/** Fortuna seeded from the host, using OpenSSL's AES-256-CTR. */
export const systemRandom = (options: Omit<SystemRandomOptions, "aes"> = {}) =>
  portableSystemRandom({
    ...options,
    aes: nativeAes256Ctr,
    bufferSize: options.bufferSize ?? 16384,
  });
