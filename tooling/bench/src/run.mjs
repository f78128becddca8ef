#!/usr/bin/env node
// `pnpm bench`: runs every benchmark file (packages/*/bench/*.bench.ts and
// apps/*/bench/*.bench.ts), each in its own process, one after the other so
// they do not compete for the two cores, and prints one table. Pass a
// substring to run only matching files: `pnpm bench tcpip`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt } from "./harness.mjs";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const filter = process.argv.slice(2).filter((a) => a !== "--");
const files = ["packages", "apps"]
  .flatMap((group) =>
    readdirSync(path.join(root, group), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(root, group, d.name, "bench")),
  )
  .filter((dir) => existsSync(dir))
  .flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".bench.ts"))
      .map((f) => path.join(dir, f)),
  )
  .filter((f) => filter.length === 0 || filter.some((s) => path.relative(root, f).includes(s)))
  .sort();

const outDir = path.join(root, ".bench");
mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, "rows.jsonl");
rmSync(out, { force: true });
const tsx = fileURLToPath(import.meta.resolve("tsx"));
let failures = 0;
for (const file of files) {
  const rel = path.relative(root, file);
  process.stderr.write(`bench: ${rel}\n`);
  const run = spawnSync(process.execPath, ["--expose-gc", "--import", tsx, file], {
    cwd: path.dirname(path.dirname(file)),
    env: { ...process.env, ATOLL_BENCH_OUT: out },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (run.status !== 0) {
    failures++;
    process.stderr.write(`bench: ${rel} failed with status ${run.status}\n`);
  }
}

const rows = existsSync(out)
  ? readFileSync(out, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
const table = [
  ["suite", "benchmark", "Atoll", "peer", "ratio", "target"],
  ...rows.map((r) => [
    r.suite,
    r.name,
    `${fmt(r.atoll)} ${r.unit}`,
    r.peer === null ? "—" : `${fmt(r.peer)} ${r.unit} (${r.peerName})`,
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x`,
    r.target ?? "",
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ");
console.log(`\n${line(table[0])}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
for (const row of table.slice(1)) console.log(line(row));
console.log(
  "\nratio: Atoll's performance as a multiple of the peer's, measured in the same run (>1 = Atoll faster).",
);
writeFileSync(
  path.join(outDir, "results.md"),
  `${[
    `| ${table[0].join(" | ")} |`,
    `|${table[0].map(() => "---").join("|")}|`,
    ...table.slice(1).map((r) => `| ${r.join(" | ")} |`),
  ].join("\n")}\n`,
);
if (failures > 0 || rows.length === 0) process.exit(1);
