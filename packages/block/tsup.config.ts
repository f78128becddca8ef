import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({
  entry: { index: "src/index.ts", node: "src/node.ts", conformance: "src/conformance.ts" },
});
