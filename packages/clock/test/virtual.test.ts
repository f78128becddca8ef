import { createUnikernel, minutes, seconds } from "@atoll/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  monotonicClockConformance,
  timeConformance,
  wallClockConformance,
} from "../src/conformance.js";
import { MonotonicClock, SimulationError, Time, VirtualTime } from "../src/index.js";

timeConformance({
  name: "virtual",
  setup: () => {
    const world = new VirtualTime();
    return { time: world.timers, clock: world.clock, wait: (p) => world.run(p) };
  },
});
monotonicClockConformance({ name: "virtual", setup: () => ({ clock: new VirtualTime().clock }) });
wallClockConformance({ name: "virtual", setup: () => ({ clock: new VirtualTime().wallClock }) });

describe("VirtualTime", () => {
  it("moves only when advanced, and a ten-minute timeout passes instantly", async () => {
    const world = new VirtualTime();
    let fired = false;
    world.timers.setTimer(minutes(10), () => {
      fired = true;
    });
    await world.advance(minutes(10) - 1);
    expect(fired).toBe(false);
    expect(world.now()).toBe(minutes(10) - 1);
    await world.advance(1);
    expect(fired).toBe(true);
  });

  it("lets promise chains settle between instants", async () => {
    const world = new VirtualTime();
    const log: string[] = [];
    const task = async () => {
      for (let i = 0; i < 3; i++) {
        await world.timers.sleep(seconds(1));
        await Promise.resolve();
        log.push(`tick ${i} at ${world.now() / 1e9}s`);
      }
    };
    const done = task();
    await world.advance(seconds(10));
    await done;
    expect(log).toEqual(["tick 0 at 1s", "tick 1 at 2s", "tick 2 at 3s"]);
  });

  it("reports a deadlock instead of hanging", async () => {
    const world = new VirtualTime();
    await expect(world.run(new Promise(() => {}))).rejects.toBeInstanceOf(SimulationError);
  });

  it("stops a timer that re-arms forever at the limit", async () => {
    const world = new VirtualTime();
    const rearm = () => void world.timers.setTimer(seconds(1), rearm);
    rearm();
    await expect(world.runUntilIdle({ maxSteps: 100 })).rejects.toThrow(
      /still busy after 100 instants/,
    );
  });

  it("advances the wall clock with the monotonic clock", async () => {
    const world = new VirtualTime({ epochMs: 1_000_000, tzOffsetSeconds: 3600 });
    await world.advance(seconds(2));
    expect(world.wallClock.now()).toBe(1_002_000);
    expect(world.wallClock.tzOffsetSeconds()).toBe(3600);
  });

  it("fires any set of timers in (deadline, scheduling) order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (delays, cancels) => {
          const world = new VirtualTime();
          const fired: number[] = [];
          const timers = delays.map((d, i) => world.setTimer(d, () => fired.push(i)));
          const cancelled = new Set<number>();
          for (const c of cancels) {
            if (delays.length === 0) break;
            const i = c % delays.length;
            timers[i]!.cancel();
            cancelled.add(i);
          }
          world.advanceSync(1000);
          const expected = delays
            .map((d, i) => [d, i] as const)
            .filter(([, i]) => !cancelled.has(i))
            .sort((a, b) => a[0] - b[0] || a[1] - b[1])
            .map(([, i]) => i);
          expect(fired).toEqual(expected);
          expect(world.pendingTimers).toBe(0);
        },
      ),
    );
  });

  it("drives a whole unikernel through its drivers", async () => {
    const world = new VirtualTime();
    const stamps: number[] = [];
    const App = createUnikernel({
      name: "sleeper",
      needs: { time: Time, clock: MonotonicClock },
      async start({ time, clock }) {
        for (let i = 0; i < 3; i++) {
          await time.sleep(seconds(5));
          stamps.push(clock.now());
        }
      },
    });
    const uk = App({ time: world.time(), clock: world.monotonic() });
    await world.run(uk.start());
    expect(stamps).toEqual([seconds(5), seconds(10), seconds(15)]);
    await uk.stop();
  });
});
