import { atollVitest } from "@atoll/config/vitest";

export default atollVitest({ name: "storage", testTimeout: 60_000 });
