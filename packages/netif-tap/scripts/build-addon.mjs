#!/usr/bin/env node
// Builds the native addon (build/Release/atoll_tap.node) with node-gyp. Runs as
// the package's install script, so it must never fail an install: off Linux it
// does nothing (the driver reports an unsupported platform at connect), and a
// failed build only warns (the driver then reports the missing addon at
// connect, with this output to look at). `--strict` (the build:native script)
// exits non-zero when the build fails instead.
//
// Headers: when Node's own headers are installed next to the binary
// (<prefix>/include/node), they are used, so no download is needed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const strict = process.argv.includes("--strict");
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const say = (line) => process.stderr.write(`@atoll/netif-tap: ${line}\n`);

if (process.platform !== "linux") {
  say(`skipping the native addon on ${process.platform} (TAP devices need Linux)`);
  process.exit(0);
}
if (process.env.ATOLL_TAP_SKIP_BUILD === "1") {
  say("ATOLL_TAP_SKIP_BUILD=1: skipping the native addon");
  process.exit(0);
}

const args = ["rebuild"];
const prefix = path.resolve(path.dirname(process.execPath), "..");
const hasLocalHeaders =
  existsSync(path.join(prefix, "include/node/node_api.h")) &&
  existsSync(path.join(prefix, "include/node/common.gypi"));
if (hasLocalHeaders && !process.env.npm_config_nodedir) args.push(`--nodedir=${prefix}`);

// npm and pnpm run install scripts with their bundled node-gyp on PATH and in
// npm_config_node_gyp; outside a package manager, fall back to PATH.
const gyp = process.env.npm_config_node_gyp;
const [command, commandArgs] =
  gyp && /\.[cm]?js$/.test(gyp) ? [process.execPath, [gyp, ...args]] : [gyp || "node-gyp", args];
const run = spawnSync(command, commandArgs, { cwd: packageDir, stdio: "inherit" });

if (run.status === 0) process.exit(0);
const reason = run.error
  ? `could not run node-gyp (${run.error.message})`
  : `node-gyp exited with status ${run.status}`;
say(
  `WARNING: the native addon was not built: ${reason}. TAP devices will not open ` +
    "(TapAddonMissingError) until it is: install a C compiler, make and python3, " +
    "then run `pnpm rebuild @atoll/netif-tap`.",
);
process.exit(strict ? 1 : 0);
