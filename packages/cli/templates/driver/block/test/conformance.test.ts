import { blockConformance } from "@atoll/block/conformance";
import { __Name__Block, __Name__Storage } from "../src/index.js";

for (const readOnly of [false, true]) {
  blockConformance({
    name: `__NAME__${readOnly ? " (read-only)" : ""}`,
    setup() {
      const storage = new __Name__Storage(512, 2048);
      let block = new __Name__Block(storage, { readOnly });
      return {
        block,
        disconnect: async () => block.close(),
        reopen: async () => {
          block.close();
          block = new __Name__Block(storage, { readOnly });
          return block;
        },
      };
    },
  });
}
