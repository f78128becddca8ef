// The whole test suite in one vitest run: every package and app is a project.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "tooling/checks", "tooling/registry-test"],
  },
});
