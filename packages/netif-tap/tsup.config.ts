import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({ entry: { index: "src/index.ts" }, platform: "node" });
