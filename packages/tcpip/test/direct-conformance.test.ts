import { stackConformance } from "../src/conformance.js";
import { world } from "./support/stacks.js";

let nextPort = 1000;

stackConformance({
  name: "direct stack on a test hub, virtual time",
  setup: () => {
    const w = world(`conformance-${nextPort}`);
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    return {
      w,
      a,
      b,
      aAddress: "10.0.0.1",
      bAddress: "10.0.0.2",
      wait: w.run,
      sleep: (ns: number) => w.time.timers.sleep(ns),
      port: () => nextPort++,
      ping: true,
    };
  },
  teardown: (h) => h.w.close(),
});
