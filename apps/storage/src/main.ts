// Runs notes on Node: stdio, the system wall clock, and the log store on a
// file-backed block device (`--path`, default notes.img, created at 4 MiB).
import { fileBlock } from "@atoll/block/node";
import { logKv } from "@atoll/kv";
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { Notes } from "./notes.js";

const { console, wallClock } = nodeDefaults();

await runMain(
  Notes({
    console,
    wallClock,
    notes: logKv(),
    block: fileBlock({ path: "notes.img", createSize: 4 * 1024 * 1024 }),
  }),
);
