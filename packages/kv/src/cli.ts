#!/usr/bin/env node
// atoll-kv-static <dir> <out.ts|out.js>: captures a directory into a module
// for the static store. SOURCE_DATE_EPOCH fixes every file's time.

import process from "node:process";
import { writeStaticKvModule } from "./build.js";

const args = process.argv.slice(2);
if (args.length !== 2 || args.includes("--help") || args.includes("-h")) {
  process.stdout.write(
    "usage: atoll-kv-static <directory> <out.ts|out.js>\n\n" +
      "Captures <directory> into a module exporting a StaticKvImage, for staticKv() from @atoll/kv.\n" +
      "Set SOURCE_DATE_EPOCH (seconds) to give every file the same time, for reproducible builds.\n",
  );
  process.exit(args.length === 2 ? 0 : 2);
}
const [dir, out] = args as [string, string];
try {
  const result = await writeStaticKvModule(dir, out);
  process.stdout.write(
    `atoll-kv-static: ${result.image.files.length} files from ${dir} written to ${out}` +
      (result.skipped.length > 0
        ? ` (${result.skipped.length} skipped: links or special files)`
        : "") +
      "\n",
  );
} catch (error) {
  process.stderr.write(`atoll-kv-static: ${(error as Error).message}\n`);
  process.exit(1);
}
