import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({
  entry: {
    index: "src/index.ts",
    cli: "src/cli.ts",
    "image/index": "src/image/index.ts",
    "image/realm": "src/image/realm.ts",
  },
  platform: "node",
});
