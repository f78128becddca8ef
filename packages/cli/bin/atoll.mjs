#!/usr/bin/env node
// The atoll command. The code is in dist/cli.js (`pnpm build` in packages/cli).
import { main } from "../dist/cli.js";

process.exitCode = await main(process.argv.slice(2));
