// Bulk transfer: 50 MB each way at once over one connection, SHA-256
// verified, under loss, reordering, duplication, corruption and delay, in
// virtual time. The seed is printed when a run fails.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Flow } from "../src/signature.js";
import { createPair, type Impairments, withSeed } from "./tcp-link.js";

const MB = 1_000_000;
const MS = 1e6;
const SIZE = Number(process.env.TCP_BULK_BYTES ?? 50 * MB);
const CHUNK = 256 * 1024;

/** 4 MiB of incompressible bytes (xorshift32), generated once. */
const BLOCK = (() => {
  const b = new Uint8Array(4 * 1024 * 1024);
  const words = new Uint32Array(b.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return b;
})();

/** Deterministic chunks: windows of BLOCK at offsets that depend on the seed and the index. */
function* chunks(size: number, seed: number): Generator<Uint8Array> {
  let i = 0;
  for (let sent = 0; sent < size; sent += CHUNK, i++) {
    const n = Math.min(CHUNK, size - sent);
    const offset = ((seed * 7919 + i * 104729) % (BLOCK.length - CHUNK)) | 0;
    yield BLOCK.subarray(offset, offset + n);
  }
}

async function send(flow: Flow, size: number, seed: number): Promise<string> {
  const h = createHash("sha256");
  for (const c of chunks(size, seed)) {
    h.update(c);
    await flow.write(c);
  }
  await flow.shutdown();
  return h.digest("hex");
}

async function receive(flow: Flow): Promise<{ hash: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for (;;) {
    const c = await flow.read();
    if (c === null) break;
    bytes += c.length;
    h.update(c);
  }
  return { hash: h.digest("hex"), bytes };
}

const base: Impairments = { delayNs: 2 * MS, slotNs: 2 * MS };

const cases: Array<[string, Impairments]> = [
  ["1% loss", { ...base, loss: 0.01 }],
  ["10% loss", { ...base, loss: 0.1 }],
  ["reordering", { ...base, reorder: 0.05, reorderDelayNs: 4 * MS }],
  ["duplication", { ...base, duplicate: 0.05 }],
  ["corruption", { ...base, corrupt: 0.02 }],
  [
    "delay and jitter",
    {
      delayNs: 40 * MS,
      jitterNs: 10 * MS,
      slotNs: 1 * MS,
      rateBytesPerSecond: 50e6,
      queueLimit: 400,
    },
  ],
];

describe("tcp: bulk transfer both ways, SHA-256 verified", () => {
  for (const [name, impairments] of cases) {
    it(`${SIZE / MB} MB each way under ${name}`, async () => {
      const seed = `bulk-${name}`;
      await withSeed(seed, async () => {
        const pair = createPair({ seed, impairments });
        let serverSide: Promise<[string, { hash: string; bytes: number }]> | undefined;
        pair.b.tcp.listen(80, (flow) => {
          serverSide = Promise.all([send(flow, SIZE, 2), receive(flow)]);
        });
        const client = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80));
        const clientSide = Promise.all([send(client, SIZE, 1), receive(client)]);
        const [[sentUp, gotDown], [sentDown, gotUp]] = await pair.world.run(
          Promise.all([
            clientSide,
            (async () => {
              while (serverSide === undefined) await new Promise((r) => setImmediate(r));
              return serverSide;
            })(),
          ]),
          { maxSteps: 100_000_000 },
        );
        expect(gotUp.bytes).toBe(SIZE);
        expect(gotDown.bytes).toBe(SIZE);
        expect(gotUp.hash).toBe(sentUp);
        expect(gotDown.hash).toBe(sentDown);
        const link = pair.link.stats;
        if (impairments.loss) expect(link.lost).toBeGreaterThan(0);
        if (impairments.corrupt) {
          expect(link.corrupted).toBeGreaterThan(0);
          expect(pair.a.stats.rxChecksumErrors + pair.b.stats.rxChecksumErrors).toBeGreaterThan(0);
        }
        if (impairments.duplicate) expect(link.duplicated).toBeGreaterThan(0);
        if (impairments.reorder) expect(link.reordered).toBeGreaterThan(0);
        expect(pair.a.stats.internalErrors + pair.b.stats.internalErrors).toBe(0);
      });
    });
  }
});
