// __NAME__ on Atoll's own TCP/IP, on a memory switch, under virtual time: a
// client stack on another port of the switch talks to it. Nothing waits for
// real time and a seed makes every run the same.
import { VirtualTime } from "@atoll/clock";
import { SeededRandom, seededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import { createDirectStack, direct } from "@atoll/tcpip";
import { describe, expect, it } from "vitest";
import { __Name__ } from "../src/unikernel.js";

describe("__NAME__", () => {
  it("greets a client and echoes what it sends, on a memory switch", async () => {
    const world = new VirtualTime();
    const sw = new MemorySwitch();
    const uk = __Name__({
      stack: direct(),
      netif: sw.port(),
      clock: world.monotonic(),
      time: world.time(),
      random: seededRandom("server"),
    });
    await world.run(uk.start(["--ipv4=10.0.0.2/24", "--port=8080", "--greeting=hi"]));
    const client = createDirectStack(
      { netif: sw.attach(), clock: world.clock, time: world.timers, random: new SeededRandom(1) },
      { ipv4: "10.0.0.1/24" },
    );
    try {
      const flow = await world.run(client.tcp.connect("10.0.0.2", 8080));
      const decoder = new TextDecoder();
      let text = "";
      await world.run(flow.write(new TextEncoder().encode("ping\n")).then(() => flow.shutdown()));
      for (let chunk = await world.run(flow.read()); chunk !== null; ) {
        text += decoder.decode(chunk, { stream: true });
        chunk = await world.run(flow.read());
      }
      expect(text).toBe("hi\nping\n");
      await world.run(flow.close());
    } finally {
      await world.run(client.close());
      await world.run(uk.stop());
    }
  });

  it("rejects a bad argument, naming it", async () => {
    const world = new VirtualTime();
    const uk = __Name__({
      stack: direct(),
      netif: new MemorySwitch().port(),
      clock: world.monotonic(),
      time: world.time(),
      random: seededRandom(1),
    });
    await expect(uk.start(["--port=http"])).rejects.toThrow(/--port/);
  });
});
