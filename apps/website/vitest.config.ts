import { atollVitest } from "@atoll/config/vitest";

export default atollVitest({ name: "website" });
