// The Netif conformance suite on real TAP devices: two TAP netifs whose Linux
// sides are bridged in a fresh network namespace, once at MTU 1500 and once
// with jumbo frames.

import type { Netif } from "@atoll/netif";
import { netifConformance } from "@atoll/netif/conformance";
import { describe } from "vitest";
import type { TapNetif } from "../src/index.js";
import { createSegment, type Segment, tapSkipReason, warnIfSkipped } from "./support/segment.js";

warnIfSkipped("the Netif conformance suite on TAP devices");

for (const mtu of [1500, 9000]) {
  describe.skipIf(tapSkipReason !== undefined)(`TAP at MTU ${mtu}`, () => {
    netifConformance({
      name: `TAP devices on a Linux bridge, MTU ${mtu}`,
      setup: () => {
        const segment: Segment = createSegment({ a: { mtu }, b: { mtu } });
        return {
          a: segment.a,
          b: segment.b,
          segment,
          wait: <T>(promise: Promise<T>) => promise,
          disconnect: (netif: Netif) => (netif as TapNetif).close(),
        };
      },
      teardown: ({ segment }) => segment.close(),
    });
  });
}
