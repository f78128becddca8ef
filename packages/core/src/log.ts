// A leveled, structured logger that reports through the Console device, like
// MirageOS's Logs reporter. Levels are set per source (`info,tcp:debug`).

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";
export type LogFields = Readonly<Record<string, unknown>>;

const rank: Record<LogLevel | "off", number> = {
  off: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};
const label: Record<LogLevel, string> = {
  error: "ERR",
  warn: "WRN",
  info: "INF",
  debug: "DBG",
  trace: "TRC",
};

export interface Logger {
  readonly source: string;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  /** A logger for a sub-source, `stack` → `stack.tcp`. */
  child(source: string): Logger;
}

export interface LogRecord {
  readonly level: LogLevel;
  readonly source: string;
  readonly message: string;
  readonly fields: LogFields | undefined;
  /** Nanoseconds on the reporter's clock, when it has one. */
  readonly time: number | undefined;
}

export type LogLevels = {
  readonly default: LogLevel | "off";
  readonly sources: ReadonlyMap<string, LogLevel | "off">;
};

/** Parses `info`, `debug,tcp:trace`, `*:warn,http:info`, `off`; undefined when malformed. */
export function parseLogLevels(text: string): LogLevels | undefined {
  let fallback: LogLevel | "off" = "info";
  const sources = new Map<string, LogLevel | "off">();
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const colon = part.lastIndexOf(":");
    const source = colon < 0 ? "*" : part.slice(0, colon);
    const level = (colon < 0 ? part : part.slice(colon + 1)) as LogLevel | "off";
    if (!(level in rank) || source === "") return undefined;
    if (source === "*") fallback = level;
    else sources.set(source, level);
  }
  return { default: fallback, sources };
}

export function isLogLevels(value: unknown): value is LogLevels {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<LogLevels>;
  return typeof v.default === "string" && v.default in rank && v.sources instanceof Map;
}

export function formatLogLevels(levels: LogLevels): string {
  return [levels.default, ...[...levels.sources].map(([s, l]) => `${s}:${l}`)].join(",");
}

function levelFor(levels: LogLevels, source: string): number {
  // The most specific configured prefix wins: `stack.tcp` uses `stack.tcp`, else `stack`, else default.
  let s = source;
  for (;;) {
    const configured = levels.sources.get(s);
    if (configured !== undefined) return rank[configured];
    const dot = s.lastIndexOf(".");
    if (dot < 0) return rank[levels.default];
    s = s.slice(0, dot);
  }
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return "[unserialisable]";
    }
  }
  return String(value);
}

/** Renders a record as one line: `[    1.234567] INF stack.tcp: message key=value`. */
export function formatLogRecord(record: LogRecord): string {
  const stamp =
    record.time === undefined ? "" : `[${(record.time / 1e9).toFixed(6).padStart(12)}] `;
  let line = `${stamp}${label[record.level]} ${record.source}: ${record.message}`;
  if (record.fields !== undefined) {
    for (const [k, v] of Object.entries(record.fields)) line += ` ${k}=${formatValue(v)}`;
  }
  return `${line}\n`;
}

export interface LogReporterOptions {
  levels?: LogLevels;
  /** Nanosecond clock for timestamps. */
  now?: () => number;
  /** Where lines go; lines reported before a sink is attached are buffered (bounded). */
  sink?: (line: string) => void;
}

/** Owns the levels and the sink; hands out loggers per source. */
export class LogReporter {
  #levels: LogLevels;
  #now: (() => number) | undefined;
  #sink: ((line: string) => void) | undefined;
  #pending: string[] = [];
  #cache = new Map<string, number>();
  static readonly maxPending = 256;

  constructor(options: LogReporterOptions = {}) {
    this.#levels = options.levels ?? { default: "info", sources: new Map() };
    this.#now = options.now;
    this.#sink = options.sink;
  }

  setLevels(levels: LogLevels): void {
    this.#levels = levels;
    this.#cache.clear();
  }

  setClock(now: (() => number) | undefined): void {
    this.#now = now;
  }

  /** Attaches the sink and writes what was buffered before it existed. */
  attach(sink: ((line: string) => void) | undefined): void {
    this.#sink = sink;
    if (sink === undefined) return;
    const pending = this.#pending;
    this.#pending = [];
    for (const line of pending) sink(line);
  }

  threshold(source: string): number {
    let t = this.#cache.get(source);
    if (t === undefined) this.#cache.set(source, (t = levelFor(this.#levels, source)));
    return t;
  }

  report(record: Omit<LogRecord, "time">): void {
    const line = formatLogRecord({ ...record, time: this.#now?.() });
    if (this.#sink !== undefined) this.#sink(line);
    else if (this.#pending.length < LogReporter.maxPending) this.#pending.push(line);
  }

  logger(source: string): Logger {
    return new SourceLogger(this, source);
  }
}

class SourceLogger implements Logger {
  readonly #reporter: LogReporter;
  readonly source: string;

  constructor(reporter: LogReporter, source: string) {
    this.#reporter = reporter;
    this.source = source;
  }

  enabled(level: LogLevel): boolean {
    return rank[level] <= this.#reporter.threshold(this.source);
  }

  #log(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (rank[level] > this.#reporter.threshold(this.source)) return;
    this.#reporter.report({ level, source: this.source, message, fields });
  }

  error(message: string, fields?: LogFields): void {
    this.#log("error", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#log("warn", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#log("info", message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.#log("debug", message, fields);
  }
  trace(message: string, fields?: LogFields): void {
    this.#log("trace", message, fields);
  }
  child(source: string): Logger {
    return new SourceLogger(this.#reporter, `${this.source}.${source}`);
  }
}

/** A logger that discards everything, for code used outside a unikernel. */
export const silentLogger: Logger = /* @__PURE__ */ (() =>
  new LogReporter({ levels: { default: "off", sources: new Map() } }).logger("silent"))();
