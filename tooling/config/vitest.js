// Shared vitest preset. Tests resolve workspace packages to their TypeScript
// sources (the "@atoll/source" export condition), so no build is needed first.
import { defineProject } from "vitest/config";

/**
 * @param {{ name: string, testTimeout?: number, include?: string[] }} options
 */
export function atollVitest(options) {
  return defineProject({
    resolve: { conditions: ["@atoll/source"] },
    ssr: { resolve: { conditions: ["@atoll/source"] } },
    test: {
      name: options.name,
      include: options.include ?? ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 60_000,
      hookTimeout: 30_000,
      environment: "node",
    },
  });
}
