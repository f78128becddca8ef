import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Flow } from "../src/signature.js";
import { createPair, type Impairments } from "./tcp-link.js";

async function bulk(size: number, imp: Impairments, seed: number, cc: "cubic" | "newreno" = "cubic") {
  const pair = createPair({ seed, impairments: imp, configA: { congestionControl: cc }, configB: { congestionControl: cc } });
  const { world, a, b } = pair;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = (i * 31) & 255;
  let serverHash = "";
  let received = 0;
  const done = new Promise<void>((resolve) => {
    b.tcp.listen(9, async (flow: Flow) => {
      const h = createHash("sha256");
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) break;
        received += chunk.length;
        h.update(chunk);
      }
      serverHash = h.digest("hex");
      await flow.close();
      resolve();
    });
  });
  const t0 = performance.now();
  const flow = await world.run(a.tcp.connect("10.0.0.2", 9));
  const writer = (async () => {
    for (let off = 0; off < size; off += 65536) await flow.write(data.subarray(off, Math.min(size, off + 65536)));
    await flow.close();
  })();
  await world.run(Promise.all([writer, done]), { maxSteps: 50_000_000 });
  const ms = performance.now() - t0;
  const expected = createHash("sha256").update(data).digest("hex");
  console.log(`size=${size} imp=${JSON.stringify(imp)} cc=${cc} wall=${ms.toFixed(0)}ms virt=${(world.now() / 1e9).toFixed(2)}s link=${JSON.stringify(pair.link.stats)} statsA=${JSON.stringify({ rtx: a.stats.retransmittedSegments, rto: a.stats.retransmissionTimeouts, fr: a.stats.fastRetransmits, sack: a.stats.sackRecoveries })}`);
  expect(received).toBe(size);
  expect(serverHash).toBe(expected);
}

describe("bulk probe", () => {
  it("clean", async () => { await bulk(10_000_000, { delayNs: 1e6, slotNs: 1e6, rateBytesPerSecond: 100e6, queueLimit: 200 }, 1); });
  it("1% loss", async () => { await bulk(10_000_000, { delayNs: 1e6, slotNs: 1e6, loss: 0.01 }, 2); });
  it("10% loss", async () => { await bulk(10_000_000, { delayNs: 1e6, slotNs: 1e6, loss: 0.1 }, 3); });
  it("10% loss newreno", async () => { await bulk(10_000_000, { delayNs: 1e6, slotNs: 1e6, loss: 0.1 }, 3, "newreno"); });
});
