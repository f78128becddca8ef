// 100 MB each way between Linux (curl) and Atoll's TCP over TAP, on a clean
// link and with the impairment wrapper on the unikernel's TAP device (loss
// and reordering in both directions): SHA-256 equal on both ends.

import type { ImpairOptions } from "@atoll/netif";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, progress, skipReason, type World } from "../src/index.js";
import { curlTransfers } from "../src/transfers.js";

const MB = 1_000_000;
const bytes = Number(process.env.ATOLL_INTEROP_MB ?? 100) * MB;

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const cases: Array<[string, ImpairOptions | undefined]> = [
  ["a clean link", undefined],
  ["1% loss with reordering", { loss: 0.01, reorder: 0.01, reorderDelayNs: 2e6 }],
  ["5% loss with reordering", { loss: 0.05, reorder: 0.02, reorderDelayNs: 2e6 }],
];

describe(`${bytes / MB} MB each way between curl and Atoll`, () => {
  for (const [name, impair] of cases) {
    it.skipIf(skipReason(`transfers over ${name}`, "curl", "sha256sum", "head") !== undefined)(
      `over ${name}: SHA-256 equal on both ends`,
      async () => {
        world = await createWorld({
          ...(impair === undefined ? {} : { impair }),
          stack: { tcp: { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 } },
        });
        const w = world;
        const result = await curlTransfers(w.netns, w.stack, "10.77.0.2", bytes, {
          label: `[${name}] `,
        });
        expect(result.downloadReceived).toBe(result.downloadSent);
        expect(result.uploadReceived).toBe(result.uploadSent);
        expect(result.uploadReported).toBe(result.uploadSent);
        if (impair !== undefined) {
          const c = w.impaired!.impairments.stats;
          progress(
            `[${name}] lost ${c.tx.lost} sent and ${c.rx.lost} received frames, reordered ${c.tx.reordered + c.rx.reordered}; Atoll retransmitted ${w.stack.stats.tcp.retransmittedSegments} segments`,
          );
          expect(c.tx.lost + c.rx.lost).toBeGreaterThan(0);
          expect(w.stack.stats.tcp.retransmittedSegments).toBeGreaterThan(0);
        }
        expect(w.stack.stats.internalErrors).toBe(0);
      },
      300_000,
    );
  }
});
