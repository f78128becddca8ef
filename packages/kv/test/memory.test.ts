import { VirtualTime } from "@atoll/clock";
import { describe, expect, it } from "vitest";
import { kvRoConformance, kvRwConformance } from "../src/conformance.js";
import { memoryKv } from "../src/index.js";
import { connectRw } from "./helpers.js";

kvRwConformance({
  name: "memory",
  async setup() {
    const world = new VirtualTime();
    const c = await connectRw(memoryKv(), { wallClock: world.wall() });
    return { ...c, now: () => world.wallClock.now() };
  },
  teardown: (h) => h.stop(),
});

kvRoConformance({
  name: "memory",
  async setup(fixture) {
    const world = new VirtualTime();
    const c = await connectRw(memoryKv({ initial: Object.fromEntries(fixture) }), {
      wallClock: world.wall(),
    });
    return c;
  },
  teardown: (h) => h.stop(),
});

describe("memory kv", () => {
  it("refuses operations after disconnect", async () => {
    const world = new VirtualTime();
    const c = await connectRw(memoryKv(), { wallClock: world.wall() });
    await c.stop();
    await expect(c.kv.get("/x")).rejects.toMatchObject({ code: "ATOLL_DISCONNECTED" });
  });
});
