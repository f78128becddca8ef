import { describe, expect, it } from "vitest";
import { A, B, createPair } from "./tcp-link.js";

describe("tcp smoke", () => {
  it("connects, echoes and closes", async () => {
    const { world, a, b } = createPair();
    b.tcp.listen(7, async (flow) => {
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) break;
        await flow.write(chunk);
      }
      await flow.close();
    });
    const flow = await world.run(a.tcp.connect("10.0.0.2", 7));
    expect(flow.remotePort).toBe(7);
    await world.run(flow.write(new TextEncoder().encode("hello")));
    const got = await world.run(flow.read());
    expect(new TextDecoder().decode(got!)).toBe("hello");
    await world.run(flow.shutdown());
    expect(await world.run(flow.read())).toBe(null);
    await world.run(flow.close());
    void A;
    void B;
  });
});
