// The bulk-transfer suite: 50 MB in each direction at once over one connection between two direct
// stacks, under each impairment of the link, checked with SHA-256. Virtual
// time and a seeded Random make each run exact; the seed is printed when a
// run fails (ATOLL_TEST_SEED=... reruns one).

import { createHash } from "node:crypto";
import type { LinkImpairments } from "@atoll/netif";
import { afterEach, describe, expect, it } from "vitest";
import type { Flow } from "../../src/signature.js";
import { type World, world } from "./stacks.js";

const MB = 1_000_000;
const size = Number(process.env.ATOLL_BULK_MB ?? 50) * MB;
const chunk = 64 * 1024;

/** Deterministic bytes: chunk `i` of stream `stream` (xorshift32 words). */
function fill(out: Uint8Array, stream: number, i: number): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let x = (stream * 0x9e3779b9 + i * 0x85ebca6b + 1) >>> 0 || 1;
  for (let k = 0; k < words.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[k] = x >>> 0;
  }
}

function expectedDigest(stream: number): string {
  const hash = createHash("sha256");
  const buf = new Uint8Array(chunk);
  for (let at = 0, i = 0; at < size; at += chunk, i++) {
    fill(buf, stream, i);
    hash.update(buf.subarray(0, Math.min(chunk, size - at)));
  }
  return hash.digest("hex");
}

async function sendStream(flow: Flow, stream: number): Promise<void> {
  const buf = new Uint8Array(chunk);
  for (let at = 0, i = 0; at < size; at += chunk, i++) {
    fill(buf, stream, i);
    await flow.write(buf.subarray(0, Math.min(chunk, size - at)));
  }
  await flow.shutdown();
}

async function receiveDigest(flow: Flow): Promise<{ digest: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for (;;) {
    const data = await flow.read();
    if (data === null) break;
    hash.update(data);
    bytes += data.length;
  }
  return { digest: hash.digest("hex"), bytes };
}

export const impairments: Array<[string, LinkImpairments]> = [
  ["1% loss", { loss: 0.01 }],
  ["10% loss", { loss: 0.1 }],
  ["reordering", { reorder: 0.05, reorderDelayNs: 3e6, delayNs: 1e6 }],
  ["duplication", { duplicate: 0.05 }],
  ["corruption", { corrupt: 0.02 }],
  ["delay and jitter", { delayNs: 25e6, jitterNs: 10e6 }],
];

const digests = new Map<number, string>();
const digest = (stream: number) => {
  let d = digests.get(stream);
  if (d === undefined) digests.set(stream, (d = expectedDigest(stream)));
  return d;
};

/** Defines one test per named impairment. */
export function bulkSuite(names: readonly string[]): void {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  describe(`bulk transfer, ${size / MB} MB each way, under impairments`, () => {
    for (const [name, impair] of impairments.filter(([n]) => names.includes(n))) {
      it(`${name}`, async () => {
        const seed = process.env.ATOLL_TEST_SEED ?? `bulk ${name}`;
        try {
          w = world(seed);
          const tcp = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
          // Each port impairs what it sends, so every frame crosses exactly one impaired hop.
          // (Corrupting a frame twice could flip two bits that cancel in the Internet
          // checksum, RFC 1071 — a real link's CRC stands in front of that.)
          const a = w.add("10.0.0.1/24", { impair: { tx: impair }, tcp });
          const b = w.add("10.0.0.2/24", { impair: { tx: impair }, tcp });
          const served = new Promise<{ digest: string; bytes: number }>((resolve, reject) => {
            b.tcp.listen(5001, (flow) => {
              const received = receiveDigest(flow);
              void Promise.all([received, sendStream(flow, 2)])
                .then(async ([r]) => {
                  await flow.close();
                  resolve(r);
                })
                .catch(reject);
            });
          });
          const flow = await w.run(a.tcp.connect("10.0.0.2", 5001));
          const [atB, atA] = await w.run(
            Promise.all([served, receiveDigest(flow), sendStream(flow, 1)]),
          );
          await w.run(flow.close());
          expect(atB.bytes).toBe(size);
          expect(atA.bytes).toBe(size);
          expect(atB.digest).toBe(digest(1));
          expect(atA.digest).toBe(digest(2));
          for (const s of [a, b]) expect(s.stats.internalErrors).toBe(0);
          const damaged = name === "corruption" || name.includes("loss");
          if (damaged)
            expect(
              a.stats.tcp.retransmittedSegments + b.stats.tcp.retransmittedSegments,
            ).toBeGreaterThan(0);
          if (name === "corruption") {
            const caught =
              a.stats.ipv4.rxHeaderErrors +
              b.stats.ipv4.rxHeaderErrors +
              (a.stats.tcp as { rxChecksumErrors?: number }).rxChecksumErrors! +
              (b.stats.tcp as { rxChecksumErrors?: number }).rxChecksumErrors!;
            expect(caught).toBeGreaterThan(0);
          }
        } catch (error) {
          console.error(
            `bulk transfer under ${name} failed; reproduce with ATOLL_TEST_SEED=${JSON.stringify(seed)}`,
          );
          throw error;
        }
      }, 120_000);
    }
  });
}
