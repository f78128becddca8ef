import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    main: "src/main.ts",
    check: "src/check.ts",
    notes: "src/notes.ts",
    "block-check": "src/block-check.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  clean: true,
  sourcemap: true,
});
