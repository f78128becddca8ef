import { atollVitest } from "@atoll/config/vitest";

export default atollVitest({ name: "cli", testTimeout: 30_000 });
