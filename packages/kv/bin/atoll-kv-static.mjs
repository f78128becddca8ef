#!/usr/bin/env node
// A committed shim, so the command links on install before dist/ is built.
await import("../dist/cli.js");
