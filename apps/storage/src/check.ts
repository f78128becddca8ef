// Runs block-check on Node against a scratch image (`--path`, default check.img).
import { fileBlock } from "@atoll/block/node";
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { BlockCheck } from "./block-check.js";

const { console, random, clock } = nodeDefaults();

await runMain(
  BlockCheck({
    console,
    random,
    clock,
    disk: fileBlock({ path: "check.img", createSize: 1024 * 1024 }),
  }),
);
