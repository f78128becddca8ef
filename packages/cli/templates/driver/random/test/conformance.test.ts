import { randomConformance } from "@atoll/entropy/conformance";
import { __Name__Random } from "../src/index.js";

randomConformance({
  name: "__NAME__",
  setup: () => ({ random: new __Name__Random(new Uint8Array(32).fill(7)) }),
});
