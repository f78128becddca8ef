// @atoll/clock: MonotonicClock, WallClock and Time, with system and virtual drivers.

export { MonotonicClock, Time, type Timer, WallClock } from "./signatures.js";
export { sleepWith } from "./sleep.js";
export { systemMonotonicClock, systemTime, systemWallClock } from "./system.js";
export {
  type RunOptions,
  SimulationError,
  VirtualTime,
  type VirtualTimeOptions,
} from "./virtual.js";
