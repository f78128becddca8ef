import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "checks",
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    // After every other project (the interop suite is 2): the quick-start test
    // runs `pnpm install` and the build in the workspace, as the README does.
    sequence: { groupOrder: 3 },
  },
});
