#!/usr/bin/env node
// Runs the whole vitest suite once (every package is a project) and ends with
// a line of its own, `N passed, N failed`, so a run that executed no test is
// visible. Extra arguments go to vitest (`pnpm test -- packages/core`).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const dir = mkdtempSync(path.join(tmpdir(), "atoll-tests-"));
const report = path.join(dir, "report.json");
const args = process.argv.slice(2).filter((a) => a !== "--");
const vitest = spawnSync(
  "pnpm",
  [
    "exec",
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...args,
  ],
  { stdio: "inherit" },
);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed = json.numPassedTests ?? 0;
  failed = (json.numFailedTests ?? 0) + countSuitesThatFailedToRun(json);
  skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
} catch (error) {
  console.error(`could not read the vitest report: ${error.message}`);
  failed = Math.max(failed, 1);
}
rmSync(dir, { recursive: true, force: true });

console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(vitest.status !== 0 || failed > 0 || passed === 0 ? 1 : 0);

// A suite that failed to load counts as a failure; one that failed because of its tests is already counted.
function countSuitesThatFailedToRun(json) {
  return (json.testResults ?? []).filter(
    (s) => s.status === "failed" && !(s.assertionResults ?? []).some((t) => t.status === "failed"),
  ).length;
}
