import { defineProject } from "vitest/config";

// One long test file: it publishes to a local registry and installs from it.
export default defineProject({
  test: {
    name: "registry",
    include: ["test/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
