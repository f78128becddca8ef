// @atoll/platform/node: default bindings on Node.js.

import { systemMonotonicClock, systemTime, systemWallClock } from "@atoll/clock";
import { type StdioOptions, stdio } from "@atoll/console/node";
import { systemRandom } from "@atoll/entropy/node";

/** stdio console, system clocks and timers, and Fortuna random with the host's AES. */
export function nodeDefaults(options: { console?: StdioOptions } = {}) {
  return {
    console: stdio(options.console),
    clock: systemMonotonicClock(),
    wallClock: systemWallClock(),
    time: systemTime(),
    random: systemRandom(),
  };
}

export { type RunMainOptions, runMain } from "@atoll/core/node";
