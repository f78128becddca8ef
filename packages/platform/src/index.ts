// @atoll/platform: default bindings for the devices nearly every unikernel
// needs (console, clocks, time, random), so an application binds only what
// matters. `nodeDefaults()` is in @atoll/platform/node.

import {
  systemMonotonicClock,
  systemTime,
  systemWallClock,
  VirtualTime,
  type VirtualTimeOptions,
} from "@atoll/clock";
import {
  type BrowserConsoleOptions,
  browserConsole,
  type MemoryConsoleOptions,
  memoryConsole,
} from "@atoll/console";
import { type Seed, seededRandom, systemRandom } from "@atoll/entropy";

/** Console, clocks, time and Fortuna random for a page. */
export function browserDefaults(options: { console?: BrowserConsoleOptions } = {}) {
  return {
    console: browserConsole(options.console),
    clock: systemMonotonicClock(),
    wallClock: systemWallClock(),
    time: systemTime(),
    random: systemRandom(),
  };
}

export interface SimDefaultsOptions {
  readonly console?: MemoryConsoleOptions;
  readonly time?: VirtualTimeOptions;
}

/**
 * A deterministic world: virtual time, a seeded Random and a memory console.
 * Same seed, same run. Bind `sim.bindings`; drive time with `sim.world`; read
 * output from `sim.console`.
 */
export function simDefaults(seed: Seed, options: SimDefaultsOptions = {}) {
  const world = new VirtualTime(options.time);
  const console = memoryConsole(options.console);
  return {
    world,
    console: console.console,
    bindings: {
      console,
      clock: world.monotonic(),
      wallClock: world.wall(),
      time: world.time(),
      random: seededRandom(seed),
    },
  };
}
