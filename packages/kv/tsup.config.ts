import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({
  entry: {
    index: "src/index.ts",
    node: "src/node.ts",
    build: "src/build.ts",
    cli: "src/cli.ts",
    conformance: "src/conformance.ts",
  },
});
