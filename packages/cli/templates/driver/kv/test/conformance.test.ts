import { VirtualTime } from "@atoll/clock";
import { MemoryKv } from "@atoll/kv";
import { kvRwConformance } from "@atoll/kv/conformance";
import { __Name__Kv } from "../src/index.js";

kvRwConformance({
  name: "__NAME__",
  setup() {
    const world = new VirtualTime();
    const wall = world.wallClock;
    return { kv: new __Name__Kv(new MemoryKv(wall)), now: () => wall.now() };
  },
});
