import { defineProject } from "vitest/config";

// Long, and heavy on a small machine (npm, tsc, attw, child processes): it runs
// after every other project (groupOrder 1), so its load never slows their tests.
export default defineProject({
  test: {
    name: "registry",
    include: ["test/**/*.test.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    sequence: { groupOrder: 1 },
  },
});
