import { netifConformance } from "@atoll/netif/conformance";
import { __Name__Medium, type __Name__Netif } from "../src/index.js";

netifConformance({
  name: "__NAME__",
  setup() {
    const medium = new __Name__Medium();
    return {
      a: medium.attach(Uint8Array.of(2, 0, 0, 0, 0, 1)),
      b: medium.attach(Uint8Array.of(2, 0, 0, 0, 0, 2)),
      wait: <T>(promise: Promise<T>) => promise,
      disconnect: (netif) => (netif as __Name__Netif).close(),
    };
  },
});
