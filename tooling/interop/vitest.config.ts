import { defineProject } from "vitest/config";

// The interop tests move hundreds of megabytes through the kernel, each in a
// namespace of its own. They run after every other project (groupOrder 2,
// after the registry test's 1), so that their load never slows other tests
// and theirs is not slowed either. Generous timeouts: the machine is shared.
export default defineProject({
  resolve: { conditions: ["@atoll/source"] },
  ssr: { resolve: { conditions: ["@atoll/source"] } },
  test: {
    name: "interop",
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 180_000,
    hookTimeout: 60_000,
    sequence: { groupOrder: 2 },
  },
});
