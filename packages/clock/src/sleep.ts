// `sleep` in terms of `setTimer`, shared by every Time driver so abort
// semantics are identical everywhere.
import { AbortedError } from "@atoll/core";
import type { Timer } from "./signatures.js";

export function sleepWith(
  setTimer: (ns: number, callback: () => void) => Timer,
  ns: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = setTimer(ns, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): unknown {
  return new AbortedError("sleep aborted", { cause: signal.reason });
}
