#!/usr/bin/env node
// The atoll command. The code is in dist/ (`pnpm build` in packages/cli).
// For `atoll run`, the image's thread starts first, so that Node's start-up
// inside it overlaps with loading the tender and reading the image.
import { prestartVcpu } from "../dist/vcpu-thread.js";

const argv = process.argv.slice(2);
const vcpu = argv[0] === "run" ? prestartVcpu(argv.slice(1)) : undefined;
const { main } = await import("../dist/cli.js");
process.exitCode = await main(argv, vcpu === undefined ? {} : { vcpu });
