import type { UserWorkspaceConfig } from "vitest/config";
export declare function atollVitest(options: {
  name: string;
  testTimeout?: number;
  include?: string[];
}): UserWorkspaceConfig;
