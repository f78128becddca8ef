// Durations and sizes. Atoll measures time in nanoseconds held in a `number`:
// integers are exact up to 2^53 ns (about 104 days), which is the range the
// clocks promise exactly; beyond it values stay monotonic but lose precision.

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export const microseconds = (n: number): number => n * NS_PER_US;
export const milliseconds = (n: number): number => n * NS_PER_MS;
export const seconds = (n: number): number => n * NS_PER_S;
export const minutes = (n: number): number => n * 60 * NS_PER_S;
export const hours = (n: number): number => n * 3600 * NS_PER_S;

export const toMilliseconds = (ns: number): number => ns / NS_PER_MS;
export const toSeconds = (ns: number): number => ns / NS_PER_S;

const durationUnits: Record<string, number> = {
  ns: 1,
  us: NS_PER_US,
  µs: NS_PER_US,
  ms: NS_PER_MS,
  s: NS_PER_S,
  m: 60 * NS_PER_S,
  h: 3600 * NS_PER_S,
  d: 86400 * NS_PER_S,
};

const durationPart = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;

/** Parses `1.5s`, `250ms`, `1h30m`, `10us` into nanoseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim();
  if (input === "") return undefined;
  if (input === "0") return 0;
  let total = 0;
  durationPart.lastIndex = 0;
  while (durationPart.lastIndex < input.length) {
    const at = durationPart.lastIndex;
    const match = durationPart.exec(input);
    if (match === null || match.index !== at) return undefined;
    total += Number(match[1]) * durationUnits[match[2]!]!;
  }
  return Math.round(total);
}

/** Formats nanoseconds with the largest unit that keeps it readable: `1.5s`, `250ms`, `12us`. */
export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  const pick = (unit: number, suffix: string) => `${trimNumber(ns / unit)}${suffix}`;
  if (abs >= 3600 * NS_PER_S && ns % (60 * NS_PER_S) === 0) return pick(3600 * NS_PER_S, "h");
  if (abs >= 60 * NS_PER_S && ns % NS_PER_S === 0) return pick(60 * NS_PER_S, "m");
  if (abs >= NS_PER_S) return pick(NS_PER_S, "s");
  if (abs >= NS_PER_MS) return pick(NS_PER_MS, "ms");
  if (abs >= NS_PER_US) return pick(NS_PER_US, "us");
  return `${ns}ns`;
}

const sizeUnits: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parses `4096`, `64KiB`, `1.5MB`, `2G` (binary when the unit is a bare letter) into bytes. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = sizeUnits[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Number(match[1]) * unit;
  return Number.isSafeInteger(Math.round(value)) ? Math.round(value) : undefined;
}

export function formatBytes(bytes: number): string {
  const steps: Array<[number, string]> = [
    [1024 ** 4, "TiB"],
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [unit, suffix] of steps) {
    if (Math.abs(bytes) >= unit) return `${trimNumber(bytes / unit)}${suffix}`;
  }
  return `${bytes}B`;
}

function trimNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(3)));
}
