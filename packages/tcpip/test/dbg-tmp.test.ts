import { it } from "vitest";
import { describeFlags } from "../src/tcp/wire.js";
import { A, capture, createPair, readAll, text } from "./tcp-link.js";
it("dbg", async () => {
    const pair = createPair({ configB: { synBacklog: 1 }, impairments: { delayNs: 1e6, slotNs: 1e6 } });
    pair.b.tcp.listen(7, async (flow) => {
      try { const data = await readAll(flow as never); await flow.write(data); await flow.close(); } catch (e) { console.log("server", (e as Error).message); }
    }, { backlog: 1 });
    const log = capture(pair.link);
    const one = async (i: number) => {
      try {
      const flow = await pair.a.tcp.connect("10.0.0.2", 7);
      await flow.write(text("abc")); await flow.shutdown(); await readAll(flow as never); await flow.close();
      } catch (e) { console.log("client", i, (e as Error).message); return false; }
    };
    await pair.world.run(Promise.all([one(1), one(2), one(3)]));
    for (const c of log) console.log((c.at/1e6).toFixed(1), c.src === A ? "A>B" : "B>A", describeFlags(c.seg.flags), c.seg.seq, c.seg.ack, c.seg.srcPort, c.seg.dstPort, c.seg.payload.length);
    console.log(pair.b.stats.synCookiesSent, pair.b.stats.synCookiesAccepted, pair.b.stats.synCookiesRejected, pair.b.stats.acceptQueueDrops);
});
