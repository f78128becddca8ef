import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({
  entry: {
    index: "src/index.ts",
    socket: "src/socket.ts",
    node: "src/node.ts",
    conformance: "src/conformance.ts",
  },
});
