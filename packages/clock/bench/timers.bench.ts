// Virtual-time timer throughput (schedule and fire) next to Node's own timers.
import { compare, opsPerSecond, report } from "@atoll/bench";
import { VirtualTime } from "@atoll/clock";

const N = 10_000;

const virtualSync = () =>
  opsPerSecond(() => {
    const world = new VirtualTime();
    let fired = 0;
    for (let i = 0; i < N; i++) world.setTimer((i * 7919) % 100_000, () => fired++);
    world.advanceSync(100_000);
    if (fired !== N) throw new Error(`fired ${fired}`);
    return N;
  });

const virtualAsync = () =>
  opsPerSecond(async () => {
    const world = new VirtualTime();
    let fired = 0;
    // 100 timers per instant: the async advance yields to the host once per instant.
    for (let i = 0; i < N; i++) world.setTimer(i % 100, () => fired++);
    await world.advance(100);
    if (fired !== N) throw new Error(`fired ${fired}`);
    return N;
  });

const nodeTimers = () =>
  opsPerSecond(
    () =>
      new Promise<number>((resolve) => {
        let fired = 0;
        for (let i = 0; i < N; i++) setTimeout(() => ++fired === N && resolve(N), 0);
      }),
  );

const sync = await compare(virtualSync, nodeTimers);
report({
  suite: "clock",
  name: "virtual timers, advanceSync",
  unit: "timers/s",
  higherIsBetter: true,
  atoll: sync.atoll,
  peer: sync.peer,
  peerName: "node setTimeout(0)",
});
const async = await compare(virtualAsync, nodeTimers);
report({
  suite: "clock",
  name: "virtual timers, advance (settles promises per instant)",
  unit: "timers/s",
  higherIsBetter: true,
  atoll: async.atoll,
  peer: async.peer,
  peerName: "node setTimeout(0)",
});
