import { defineProject } from "vitest/config";

// One long test file: it publishes to a local registry and installs from it.
export default defineProject({
  test: {
    name: "registry",
    include: ["test/**/*.test.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
  },
});
