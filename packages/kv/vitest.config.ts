import { atollVitest } from "@atoll/config/vitest";

export default atollVitest({ name: "kv", testTimeout: 60_000 });
