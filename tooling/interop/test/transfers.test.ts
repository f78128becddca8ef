// 100 MB each way between Linux (curl) and Atoll's TCP over TAP, on a clean
// link and with the impairment wrapper on the unikernel's TAP device at 1 %
// and 5 % loss with reordering (in both directions, so data and ACKs both
// suffer): SHA-256 equal on both ends. The impaired runs spend most of their
// time waiting on retransmission timers, not on the CPU, so the two
// impairment levels run at once, each with its download and upload at once.

import type { ImpairOptions } from "@atoll/netif";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, progress, skipReason, type World } from "../src/index.js";
import {
  CurlTransfers,
  type DirectionResult,
  type RandomFile,
  randomFile,
} from "../src/transfers.js";

const MB = 1_000_000;
const bytes = Number(process.env.ATOLL_INTEROP_MB ?? 100) * MB;
const tcp = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
// Atoll's TCP recovers a lost retransmission only by its retransmission timer
// (no RACK-TLP yet, TCP.md), and at 5 % loss that happens about once per 100
// segments: with the default 200 ms floor the 5 % download alone takes
// minutes. A link whose round trip is well under a millisecond affords a
// lower floor (RFC 6298 §2.4 leaves it to the implementation).
const lossyTcp = { ...tcp, minRtoNs: Number(process.env.ATOLL_INTEROP_MIN_RTO_MS ?? 20) * 1e6 };

const worlds: World[] = [];
const files: RandomFile[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
  for (const f of files.splice(0)) f.remove();
});

function expectIntact(name: string, down: DirectionResult, up: DirectionResult): void {
  expect(down.received, `${name}: download`).toBe(down.sent);
  expect(up.received, `${name}: upload, as Atoll hashed it`).toBe(up.sent);
  expect(up.reported, `${name}: upload, as curl was told`).toBe(up.sent);
}

const skip = skipReason("bulk transfers with curl", "curl", "sha256sum", "head");

describe(`${bytes / MB} MB each way between curl and Atoll's TCP over TAP`, () => {
  it.skipIf(skip !== undefined)(
    "over a clean link: SHA-256 equal on both ends",
    async () => {
      const w = await createWorld({ stack: { tcp } });
      worlds.push(w);
      const file = await randomFile(bytes);
      files.push(file);
      const t = new CurlTransfers(w.netns, w.stack, "10.77.0.2", bytes, { label: "[clean] " });
      const down = await t.download();
      const up = await t.upload(file);
      expectIntact("clean", down, up);
      expect(w.stack.stats.internalErrors).toBe(0);
    },
    300_000,
  );

  it.skipIf(skip !== undefined)(
    "at 1% and 5% loss with reordering: both directions complete, SHA-256 equal",
    async () => {
      const cases: Array<[string, ImpairOptions]> = [
        ["1% loss", { loss: 0.01, reorder: 0.01, reorderDelayNs: 2e6 }],
        ["5% loss", { loss: 0.05, reorder: 0.02, reorderDelayNs: 2e6 }],
      ];
      const file = await randomFile(bytes);
      files.push(file);
      await Promise.all(
        cases.map(async ([name, impair]) => {
          const w = await createWorld({ impair, stack: { tcp: lossyTcp } });
          worlds.push(w);
          const t = new CurlTransfers(w.netns, w.stack, "10.77.0.2", bytes, {
            label: `[${name}] `,
          });
          const [down, up] = await Promise.all([t.download(), t.upload(file)]);
          expectIntact(name, down, up);
          const c = w.impaired!.impairments.stats;
          const s = w.stack.stats.tcp;
          progress(
            `[${name}] the wrapper lost ${c.tx.lost} frames sent and ${c.rx.lost} received, reordered ${c.tx.reordered + c.rx.reordered}; ` +
              `Atoll retransmitted ${s.retransmittedSegments} segments (${s.retransmissionTimeouts ?? "?"} timeouts)`,
          );
          expect(c.tx.lost).toBeGreaterThan(0);
          expect(c.rx.lost).toBeGreaterThan(0);
          expect(c.tx.reordered + c.rx.reordered).toBeGreaterThan(0);
          expect(s.retransmittedSegments).toBeGreaterThan(0);
          expect(w.stack.stats.internalErrors).toBe(0);
        }),
      );
    },
    900_000,
  );
});
