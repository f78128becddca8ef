import { consoleConformance } from "@atoll/console/conformance";
import { __Name__Console } from "../src/index.js";

consoleConformance({
  name: "__NAME__",
  setup() {
    const written: Uint8Array[] = [];
    const console = new __Name__Console((bytes) => written.push(bytes));
    return {
      console,
      written: () => Uint8Array.from(written.flatMap((b) => [...b])),
      feed: (data: Uint8Array) => console.feed(data),
      endInput: () => console.endInput(),
    };
  },
});
