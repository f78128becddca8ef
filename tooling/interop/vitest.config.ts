import { atollVitest } from "@atoll/config/vitest";

// The interop tests move hundreds of megabytes through the kernel; each test
// builds and removes its own namespace. Generous timeouts: a CI machine is shared.
export default atollVitest({ name: "interop", testTimeout: 180_000 });
