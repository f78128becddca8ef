import { monotonicClockConformance } from "@atoll/clock/conformance";
import { __Name__Clock } from "../src/index.js";

let ticks = 0;
monotonicClockConformance({
  name: "__NAME__",
  setup: () => ({ clock: new __Name__Clock(() => (ticks += 1000)) }),
});
