// The benchmark harness. A benchmark measures Atoll and a peer in the same
// process run (these machines are noisy: only ratios survive) and reports one
// row per figure. Rows are appended as JSON lines to $ATOLL_BENCH_OUT when the
// runner collects them, and printed either way.
import { appendFileSync } from "node:fs";

/**
 * @typedef {{ suite: string, name: string, unit: string, higherIsBetter: boolean,
 *   atoll: number, peer: number | null, peerName: string | null, target?: string, note?: string }} BenchRow
 */

/** Reports one figure. The ratio is Atoll's performance as a multiple of the peer's (>1 = Atoll faster). */
export function report(row) {
  const ratio =
    row.peer === null || row.peer === undefined
      ? null
      : row.higherIsBetter
        ? row.atoll / row.peer
        : row.peer / row.atoll;
  const full = { ...row, peer: row.peer ?? null, peerName: row.peerName ?? null, ratio };
  if (process.env.ATOLL_BENCH_OUT)
    appendFileSync(process.env.ATOLL_BENCH_OUT, `${JSON.stringify(full)}\n`);
  else console.log(formatRow(full));
  return full;
}

export function formatRow(r) {
  const peer = r.peer === null ? "—" : `${fmt(r.peer)} ${r.unit} (${r.peerName})`;
  const ratio = r.ratio === null ? "" : ` ratio ${r.ratio.toFixed(2)}x`;
  return `${r.suite} › ${r.name}: ${fmt(r.atoll)} ${r.unit} vs ${peer}${ratio}${r.target ? ` [target ${r.target}]` : ""}`;
}

export function fmt(n) {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e6) return n.toExponential(3);
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/**
 * Runs `fn` repeatedly for about `ms` milliseconds after a warm-up and returns
 * operations per second. `fn` returns how many operations it did (default 1).
 */
export async function opsPerSecond(fn, { ms = 1000, warmupMs = 200 } = {}) {
  const until = (deadline) => performance.now() < deadline;
  let deadline = performance.now() + warmupMs;
  while (until(deadline)) await fn();
  let ops = 0;
  const start = performance.now();
  deadline = start + ms;
  while (until(deadline)) ops += (await fn()) ?? 1;
  return ops / ((performance.now() - start) / 1000);
}

/** Runs `fn` `samples` times and returns the median duration in milliseconds. */
export async function medianMs(fn, { samples = 50, warmup = 5 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Alternates Atoll and peer measurements `rounds` times and keeps each side's
 * best, so that a burst of noise hurts neither side more than the other.
 */
export async function compare(atoll, peer, { rounds = 3, higherIsBetter = true } = {}) {
  let a = higherIsBetter ? -Infinity : Infinity;
  let p = higherIsBetter ? -Infinity : Infinity;
  const better = higherIsBetter ? Math.max : Math.min;
  for (let i = 0; i < rounds; i++) {
    a = better(a, await atoll());
    p = better(p, await peer());
  }
  return { atoll: a, peer: p };
}
