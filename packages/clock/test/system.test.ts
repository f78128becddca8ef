import { createUnikernel } from "@atoll/core";
import { describe, expect, it } from "vitest";
import {
  monotonicClockConformance,
  timeConformance,
  wallClockConformance,
} from "../src/conformance.js";
import {
  MonotonicClock,
  systemMonotonicClock,
  systemTime,
  systemWallClock,
  Time,
  WallClock,
} from "../src/index.js";

// The system drivers connect through a unikernel, exactly as applications use them.
async function connectSystem() {
  let devices!: { time: Time; clock: MonotonicClock; wall: WallClock };
  const App = createUnikernel({
    name: "system-clocks",
    needs: { time: Time, clock: MonotonicClock, wall: WallClock },
    start(d) {
      devices = d;
      return () => {};
    },
  });
  const uk = App({ time: systemTime(), clock: systemMonotonicClock(), wall: systemWallClock() });
  await uk.start();
  return { ...devices, uk };
}

timeConformance({
  name: "system",
  setup: async () => ({ ...(await connectSystem()), wait: (p) => p, slackNs: 1e6 }),
  teardown: (h) => h.uk.stop(),
});
monotonicClockConformance({ name: "system", setup: connectSystem, teardown: (h) => h.uk.stop() });
wallClockConformance({
  name: "system",
  setup: async () => {
    const h = await connectSystem();
    return { clock: h.wall, uk: h.uk };
  },
  teardown: (h) => h.uk.stop(),
});

describe("system clocks", () => {
  it("tracks real elapsed time in nanoseconds", async () => {
    const { clock, uk } = await connectSystem();
    const t0 = clock.now();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 30));
    const measured = (clock.now() - t0) / 1e6;
    const real = performance.now() - w0;
    expect(Math.abs(measured - real)).toBeLessThan(2);
    await uk.stop();
  });

  it("cancels pending timers on disconnect", async () => {
    const { time, uk } = await connectSystem();
    let fired = false;
    const timer = time.setTimer(20e6, () => {
      fired = true;
    });
    await uk.stop();
    expect(timer.pending).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toBe(false);
  });
});
