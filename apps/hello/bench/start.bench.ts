// createUnikernel start→ready for hello: resolve the graph, parse arguments,
// connect devices and run the application (with --times=0 it returns at once).
// The peer is the same work wired by hand, without the functor.
import { medianMs, report } from "@atoll/bench";
import { VirtualTime } from "@atoll/clock";
import { MemoryConsole, memoryConsole } from "@atoll/console";
import { Hello } from "../src/unikernel.js";

const atoll = await medianMs(
  async () => {
    const world = new VirtualTime();
    const uk = Hello({ console: memoryConsole(), time: world.time() });
    await uk.start(["--times=0", "--hello=bench"]);
    await uk.stop();
  },
  { samples: 2000, warmup: 200 },
);
const byHand = await medianMs(
  async () => {
    const world = new VirtualTime();
    const console = new MemoryConsole();
    const args = { hello: "bench", times: 0 };
    for (let i = 0; i < args.times; i++) {
      await world.timers.sleep(1e9);
      console.write(args.hello);
    }
  },
  { samples: 2000, warmup: 200 },
);
report({
  suite: "core",
  name: "hello start→ready→stop",
  unit: "ms",
  higherIsBetter: false,
  atoll,
  peer: byHand,
  peerName: "same app wired by hand",
  target: "< 2 ms",
});
