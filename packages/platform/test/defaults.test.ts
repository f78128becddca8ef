import { PassThrough } from "node:stream";
import { MonotonicClock, Time, WallClock } from "@atoll/clock";
import { Console } from "@atoll/console";
import { createUnikernel, seconds } from "@atoll/core";
import { Random } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import { simDefaults } from "../src/index.js";
import { nodeDefaults } from "../src/node.js";

const App = createUnikernel({
  name: "defaults",
  needs: { console: Console, time: Time, clock: MonotonicClock, wall: WallClock, random: Random },
  async start({ console, time, clock, wall, random }) {
    await time.sleep(seconds(2));
    console.write(`t=${clock.now()} wall=${wall.now()} r=${random.uint32()}\n`);
  },
});

describe("platform defaults", () => {
  it("simDefaults gives the same run for the same seed", async () => {
    const run = async (seed: number) => {
      const sim = simDefaults(seed);
      const uk = App({ ...sim.bindings, wall: sim.bindings.wallClock });
      await sim.world.run(uk.start());
      await uk.stop();
      return sim.console.text();
    };
    const a = await run(1);
    expect(a).toBe(await run(1));
    expect(a).not.toBe(await run(2));
    expect(a).toMatch(/^t=2000000000 wall=946684802000 r=\d+\n$/);
  });

  it("nodeDefaults binds working host devices", async () => {
    const stdout = new PassThrough();
    let text = "";
    stdout.on("data", (c: Buffer) => (text += c.toString()));
    const d = nodeDefaults({ console: { stdout } });
    const Quick = createUnikernel({
      name: "quick",
      needs: { console: Console, random: Random, clock: MonotonicClock },
      start({ console, random, clock }) {
        console.write(`${random.bytes(8).length} ${clock.now() >= 0}\n`);
      },
    });
    const uk = Quick(d);
    await uk.start();
    await uk.stop();
    expect(text).toBe("8 true\n");
  });
});
