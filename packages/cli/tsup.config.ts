import { atollTsup } from "@atoll/config/tsup";

export default atollTsup({
  entry: {
    index: "src/index.ts",
    cli: "src/cli.ts",
    "image/index": "src/image/index.ts",
    "image/realm": "src/image/realm.ts",
    // Injected into images by atoll build (image/realm.ts gathers them).
    "image/shims": "src/image/shims.ts",
    "image/fetch": "src/image/fetch.ts",
    "image/web": "src/image/web.ts",
    // Started by bin/atoll.mjs before anything else; the vCPU thread's module.
    "vcpu-thread": "src/tender/vcpu-thread.ts",
    "vcpu-worker": "src/tender/vcpu-worker.ts",
  },
  platform: "node",
});
