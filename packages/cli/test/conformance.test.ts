// The boundary drivers (what an image sees) pass the same conformance suites
// as every other driver of their signatures.

import type { MonotonicClock, Time, WallClock } from "@atoll/clock";
import {
  monotonicClockConformance,
  timeConformance,
  wallClockConformance,
} from "@atoll/clock/conformance";
import type { Console } from "@atoll/console";
import { consoleConformance } from "@atoll/console/conformance";
import type { Random } from "@atoll/entropy";
import { randomConformance } from "@atoll/entropy/conformance";
import {
  clockSlot,
  consoleSlot,
  randomSlot,
  timeSlot,
  wallClockSlot,
} from "../src/image/devices.js";
import { machineHarness } from "./harness.js";

const slot = (kind: string, extra: object = {}) =>
  ({ name: kind, signature: "", kind, index: 1, ...extra }) as never;

consoleConformance({
  name: "console.boundary",
  async setup() {
    const h = machineHarness();
    const console = (await h.connect(consoleSlot(slot("console"), h.machine))) as Console;
    return {
      console,
      h,
      written: async () => {
        await console.flush();
        return h.written();
      },
      feed: (data: Uint8Array) => h.feed(data),
      endInput: () => h.endInput(),
    };
  },
  teardown: ({ h }) => h.close(),
});

monotonicClockConformance({
  name: "clock.boundary-monotonic",
  async setup() {
    const h = machineHarness();
    return { h, clock: (await h.connect(clockSlot(slot("clock"), h.machine))) as MonotonicClock };
  },
  teardown: ({ h }) => h.close(),
});

wallClockConformance({
  name: "clock.boundary-wall",
  async setup() {
    const h = machineHarness();
    return {
      h,
      clock: (await h.connect(wallClockSlot(slot("wallclock"), h.machine))) as WallClock,
    };
  },
  teardown: ({ h }) => h.close(),
});

timeConformance({
  name: "time.boundary",
  async setup() {
    const h = machineHarness();
    const time = (await h.connect(timeSlot(slot("time"), h.machine))) as Time;
    const clock = (await h.connect(clockSlot(slot("clock"), h.machine))) as MonotonicClock;
    return { h, time, clock, wait: <T>(p: Promise<T>) => p, slackNs: 2e6 };
  },
  teardown: ({ h }) => h.close(),
});

randomConformance({
  name: "random.boundary",
  async setup() {
    const h = machineHarness();
    const seed = "7".repeat(64);
    return {
      h,
      random: (await h.connect(randomSlot(slot("random", { seed }), h.machine))) as Random,
    };
  },
  teardown: ({ h }) => h.close(),
});
