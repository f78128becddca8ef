import { defineConfig } from "tsup";

export default defineConfig({
  entry: { main: "src/main.ts", unikernel: "src/unikernel.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  clean: true,
  sourcemap: true,
});
