// Runtime arguments, after MirageOS's runtime keys: typed declarations with a
// doc string, a default and an environment variable, parsed from argv, the
// environment or a plain object. A bad value is an ArgumentError that names the
// argument and the form it expects.

import { ArgumentError } from "./errors.js";
import { formatCidr, type Ipv4Cidr, parseCidr, parseIpv4 } from "./ipv4.js";
import { formatBytes, formatDuration, parseBytes, parseDuration } from "./units.js";

// `atoll build` (@atoll/cli) defines __ATOLL_SEALED__ when it bundles a sealed
// image, so that code only a host needs is left out of the image.
declare const __ATOLL_SEALED__: true | undefined;

export interface ArgSpec<T> {
  readonly kind: "atoll.arg";
  /** What the value looks like in help text: `N`, `PORT`, `CIDR`, `a|b`. Empty for booleans. */
  readonly metavar: string;
  /** The expected form, used in error messages: "an integer between 1 and 10". */
  readonly form: string;
  readonly doc: string | undefined;
  readonly env: string | undefined;
  readonly defaultValue: T | undefined;
  /** True when the argument has no default and is not optional. */
  readonly required: boolean;
  readonly isFlag: boolean;
  /** Parses a textual value; returns `invalid` when it does not have the expected form. */
  parse(text: string): T | typeof invalid;
  /** Accepts an already-typed value (from an object); returns `invalid` when it is not acceptable. */
  accept(value: unknown): T | typeof invalid;
  format(value: T): string;
}

export const invalid: unique symbol = Symbol("atoll.arg.invalid");

export type ArgsSpec = Record<string, ArgSpec<any>>;
export type ArgValues<A extends ArgsSpec> = {
  readonly [K in keyof A]: A[K] extends ArgSpec<infer T> ? T : never;
};

export interface ArgOptions<T> {
  readonly doc?: string;
  /** Environment variable read when the argument is not given on the command line. */
  readonly env?: string;
  readonly default?: T;
  /** Without a default, an optional argument is `undefined` when absent instead of an error. */
  readonly optional?: boolean;
}

type Resolved<T, O> = O extends { optional: true }
  ? O extends { default: T }
    ? T
    : T | undefined
  : T;

interface Base<T> {
  metavar: string;
  form: string;
  parse(text: string): T | typeof invalid;
  accept?(value: unknown): T | typeof invalid;
  format?(value: T): string;
  isFlag?: boolean;
}

function make<T, O extends ArgOptions<T>>(
  base: Base<T>,
  options: O | undefined,
): ArgSpec<Resolved<T, O>> {
  const o = (options ?? {}) as ArgOptions<T>;
  // Values from objects (accept) and help text (format) are for hosts: a sealed
  // image parses its command line only, and its tender prints its help.
  const accept =
    base.accept ??
    (typeof __ATOLL_SEALED__ !== "undefined"
      ? base.parse
      : (value: unknown) => (typeof value === "string" ? base.parse(value) : invalid));
  const spec: ArgSpec<T> = {
    kind: "atoll.arg",
    metavar: base.metavar,
    form: base.form,
    doc: o.doc,
    env: o.env,
    defaultValue: o.default,
    required: o.default === undefined && o.optional !== true && base.isFlag !== true,
    isFlag: base.isFlag === true,
    parse: base.parse,
    accept,
    format: base.format ?? String,
  };
  // (A sealed image's defaults were checked when it was built.)
  if (
    typeof __ATOLL_SEALED__ === "undefined" &&
    o.default !== undefined &&
    accept(o.default) === invalid
  ) {
    throw new TypeError(`default ${JSON.stringify(o.default)} is not ${base.form}`);
  }
  return spec as ArgSpec<Resolved<T, O>>;
}

function integer(text: string): number | typeof invalid {
  if (!/^-?\d[\d_]*$/.test(text)) return invalid;
  const n = Number(text.replaceAll("_", ""));
  return Number.isSafeInteger(n) ? n : invalid;
}

export interface IntOptions extends ArgOptions<number> {
  readonly min?: number;
  readonly max?: number;
}

function intBase(
  min: number | undefined,
  max: number | undefined,
  metavar: string,
  form?: string,
): Base<number> {
  const inRange = (n: number) => (min === undefined || n >= min) && (max === undefined || n <= max);
  const described =
    form ??
    (min !== undefined && max !== undefined
      ? `an integer between ${min} and ${max}`
      : min !== undefined
        ? `an integer >= ${min}`
        : max !== undefined
          ? `an integer <= ${max}`
          : "an integer");
  return {
    metavar,
    form: described,
    parse(text) {
      const n = integer(text);
      return n !== invalid && inRange(n) ? n : invalid;
    },
    ...(typeof __ATOLL_SEALED__ !== "undefined"
      ? {}
      : {
          accept(value: unknown) {
            if (typeof value === "string") return this.parse(value);
            return typeof value === "number" && Number.isSafeInteger(value) && inRange(value)
              ? value
              : invalid;
          },
        }),
  };
}

const truthy = new Set(["true", "1", "yes", "on"]);
const falsy = new Set(["false", "0", "no", "off"]);

/** Declarations of runtime arguments. */
export const arg = {
  string<O extends ArgOptions<string>>(options?: O) {
    return make<string, O>({ metavar: "TEXT", form: "a string", parse: (t) => t }, options);
  },

  int<O extends IntOptions>(options?: O) {
    return make<number, O>(intBase(options?.min, options?.max, "N"), options);
  },

  port<O extends ArgOptions<number>>(options?: O) {
    return make<number, O>(intBase(0, 65535, "PORT", "a port number between 0 and 65535"), options);
  },

  bool<O extends ArgOptions<boolean>>(options?: O) {
    return make<boolean, O>(
      {
        metavar: "",
        form: "true or false",
        isFlag: true,
        parse: (t) =>
          truthy.has(t.toLowerCase()) ? true : falsy.has(t.toLowerCase()) ? false : invalid,
        ...(typeof __ATOLL_SEALED__ !== "undefined"
          ? {}
          : {
              accept(value) {
                return typeof value === "boolean"
                  ? value
                  : typeof value === "string"
                    ? this.parse(value)
                    : invalid;
              },
            }),
      },
      { default: false, ...options } as O,
    );
  },

  enum<const V extends string, O extends ArgOptions<V>>(values: readonly V[], options?: O) {
    const allowed = new Set<string>(values);
    return make<V, O>(
      {
        metavar: values.join("|"),
        form: `one of ${values.map((v) => `"${v}"`).join(", ")}`,
        parse: (t) => (allowed.has(t) ? (t as V) : invalid),
      },
      options,
    );
  },

  /** An IPv4 address in dotted-quad form; the value is the normalised string. */
  ipv4<O extends ArgOptions<string>>(options?: O) {
    return make<string, O>(
      {
        metavar: "IPV4",
        form: "an IPv4 address like 10.0.0.2",
        parse: (t) => (parseIpv4(t) !== undefined ? t : invalid),
      },
      options,
    );
  },

  /** An IPv4 address with a prefix length, `10.0.0.2/24`. */
  cidr<O extends ArgOptions<Ipv4Cidr>>(options?: O) {
    return make<Ipv4Cidr, O>(
      {
        metavar: "CIDR",
        form: "an IPv4 address with prefix length like 10.0.0.2/24",
        parse: (t) => parseCidr(t) ?? invalid,
        ...(typeof __ATOLL_SEALED__ !== "undefined"
          ? {}
          : {
              accept(value) {
                if (typeof value === "string") return this.parse(value);
                if (typeof value === "object" && value !== null) {
                  const c = value as Partial<Ipv4Cidr>;
                  if (typeof c.address === "string" && typeof c.prefix === "number") {
                    return parseCidr(`${c.address}/${c.prefix}`) ?? invalid;
                  }
                }
                return invalid;
              },
              format: formatCidr,
            }),
      },
      options,
    );
  },

  /** A duration like `30s`, `250ms`, `1h30m`; the value is in nanoseconds. */
  duration<O extends ArgOptions<number>>(options?: O) {
    return make<number, O>(
      {
        metavar: "DURATION",
        form: "a duration like 30s, 250ms or 1h30m",
        parse: (t) => parseDuration(t) ?? invalid,
        ...(typeof __ATOLL_SEALED__ !== "undefined"
          ? {}
          : {
              accept(value) {
                if (typeof value === "string") return this.parse(value);
                return typeof value === "number" && Number.isFinite(value) && value >= 0
                  ? value
                  : invalid;
              },
              format: formatDuration,
            }),
      },
      options,
    );
  },

  /** A size like `4096`, `64KiB`, `1.5MB`; the value is in bytes. */
  bytes<O extends ArgOptions<number>>(options?: O) {
    return make<number, O>(
      {
        metavar: "BYTES",
        form: "a size like 4096, 64KiB or 1.5MB",
        parse: (t) => parseBytes(t) ?? invalid,
        ...(typeof __ATOLL_SEALED__ !== "undefined"
          ? {}
          : {
              accept(value) {
                if (typeof value === "string") return this.parse(value);
                return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
                  ? value
                  : invalid;
              },
              format: formatBytes,
            }),
      },
      options,
    );
  },

  /** A value of a driver's own form: `parse` returns undefined when the text is malformed. */
  custom<T, O extends ArgOptions<T>>(
    base: {
      metavar: string;
      form: string;
      parse(text: string): T | undefined;
      /** Checks a typed value given in an object; by default only strings are accepted (and parsed). */
      accept?(value: unknown): T | undefined;
      format?(value: T): string;
    },
    options?: O,
  ) {
    const parse = (t: string) => {
      const v = base.parse(t);
      return v === undefined ? invalid : v;
    };
    return make<T, O>(
      {
        metavar: base.metavar,
        form: base.form,
        parse,
        ...(typeof __ATOLL_SEALED__ !== "undefined"
          ? {}
          : {
              accept: (value: unknown) => {
                if (typeof value === "string") return parse(value);
                const v = base.accept?.(value);
                return v === undefined ? invalid : v;
              },
              ...(base.format === undefined ? {} : { format: base.format }),
            }),
      },
      options,
    );
  },
};

/** One argument of the assembled command line: who owns it and under which flag it is read. */
export interface ArgEntry {
  /** The name on the command line, without `--`. */
  readonly flag: string;
  /** Other names that are accepted too (the fully qualified `device.name` form). */
  readonly aliases: readonly string[];
  /** The property name in the owner's args object. */
  readonly key: string;
  /** `app` or the binding key of the device that declared it. */
  readonly owner: string;
  readonly spec: ArgSpec<unknown>;
}

export type ArgInput = readonly string[] | Readonly<Record<string, unknown>>;
export type Env = Readonly<Record<string, string | undefined>>;

/** The values parsed for each owner, keyed by owner then by property name. */
export type ParsedArgs = Map<string, Record<string, unknown>>;

export const helpFlags = new Set(["help", "h"]);

function reject(entry: ArgEntry, shown: string): never {
  throw new ArgumentError(
    entry.flag,
    `--${entry.flag}: expected ${entry.spec.form}, got ${JSON.stringify(shown)}`,
  );
}

function parseText(entry: ArgEntry, text: string): unknown {
  const value = entry.spec.parse(text);
  return value === invalid ? reject(entry, text) : value;
}

/** Splits argv into `name → raw text` pairs; flags without a value get `true`. */
function tokenize(argv: readonly string[], lookup: (name: string) => ArgEntry | undefined) {
  const given = new Map<ArgEntry, string | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      if (i + 1 < argv.length) {
        throw new ArgumentError(
          argv[i + 1]!,
          `unexpected argument ${JSON.stringify(argv[i + 1])} after --`,
        );
      }
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      throw new ArgumentError(
        token,
        `unexpected argument ${JSON.stringify(token)}: arguments are --name=value`,
      );
    }
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    let entry = lookup(name);
    let negated = false;
    if (entry === undefined && eq < 0 && name.startsWith("no-")) {
      const positive = lookup(name.slice(3));
      if (positive?.spec.isFlag) {
        entry = positive;
        negated = true;
      }
    }
    if (entry === undefined) {
      throw new ArgumentError(name, `unknown argument --${name} (see --help)`);
    }
    if (eq >= 0) {
      given.set(entry, body.slice(eq + 1));
    } else if (entry.spec.isFlag) {
      given.set(entry, !negated);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new ArgumentError(
          entry.flag,
          `--${entry.flag}: missing value, expected ${entry.spec.form}`,
        );
      }
      given.set(entry, next);
      i++;
    }
  }
  return given;
}

/**
 * Parses an argv array or an object of values against the assembled entries.
 * Precedence: command line or object, then environment, then default.
 */
export function parseArgs(
  entries: readonly ArgEntry[],
  input: ArgInput,
  env: Env = {},
): ParsedArgs {
  const byName = new Map<string, ArgEntry>();
  for (const entry of entries) {
    byName.set(entry.flag, entry);
    for (const alias of entry.aliases) byName.set(alias, entry);
  }
  const lookup = (name: string) => byName.get(name);

  const given = new Map<ArgEntry, unknown>();
  if (isArgv(input)) {
    for (const [entry, raw] of tokenize(input, lookup)) {
      given.set(entry, typeof raw === "boolean" ? raw : parseText(entry, raw));
    }
  } else if (typeof __ATOLL_SEALED__ === "undefined") {
    for (const [name, value] of Object.entries(input)) {
      if (value === undefined) continue;
      const entry = lookup(name);
      if (entry === undefined)
        throw new ArgumentError(name, `unknown argument ${JSON.stringify(name)}`);
      const accepted = entry.spec.accept(value);
      if (accepted === invalid)
        reject(entry, typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
      given.set(entry, accepted);
    }
  } else {
    throw new ArgumentError("arguments", "a sealed image takes its arguments from argv");
  }

  const parsed: ParsedArgs = new Map();
  for (const entry of entries) {
    let value: unknown;
    if (given.has(entry)) {
      value = given.get(entry);
    } else if (
      typeof __ATOLL_SEALED__ === "undefined" &&
      entry.spec.env !== undefined &&
      env[entry.spec.env] !== undefined
    ) {
      const text = env[entry.spec.env]!;
      const v = entry.spec.parse(text);
      if (v === invalid) {
        throw new ArgumentError(
          entry.flag,
          `--${entry.flag} (from ${entry.spec.env}): expected ${entry.spec.form}, got ${JSON.stringify(text)}`,
        );
      }
      value = v;
    } else if (entry.spec.defaultValue !== undefined) {
      value = entry.spec.defaultValue;
    } else if (entry.spec.required) {
      const envHint = entry.spec.env === undefined ? "" : ` or set ${entry.spec.env}`;
      throw new ArgumentError(
        entry.flag,
        `--${entry.flag} is required: expected ${entry.spec.form} (give --${entry.flag}=${entry.spec.metavar || "VALUE"}${envHint})`,
      );
    }
    let values = parsed.get(entry.owner);
    if (values === undefined) parsed.set(entry.owner, (values = {}));
    values[entry.key] = value;
  }
  return parsed;
}

export function isArgv(input: ArgInput): input is readonly string[] {
  return Array.isArray(input);
}

/** True when argv asks for help (`--help` or `-h`) anywhere before a `--`. */
export function wantsHelp(input: ArgInput): boolean {
  if (!isArgv(input)) return false;
  for (const token of input) {
    if (token === "--") return false;
    if (token === "--help" || token === "-h") return true;
  }
  return false;
}

export interface HelpSection {
  readonly title: string;
  readonly entries: readonly ArgEntry[];
}

/** Renders the `--help` text: one section for the app, one per device with arguments. */
export function renderHelp(
  name: string,
  description: string | undefined,
  sections: readonly HelpSection[],
): string {
  const lines: string[] = [];
  lines.push(
    description === undefined ? name : `${name} — ${description}`,
    "",
    `Usage: ${name} [--name=value ...]`,
  );
  for (const section of sections) {
    if (section.entries.length === 0) continue;
    lines.push("", `${section.title}:`);
    const rows = section.entries.map((entry) => {
      const left = `  --${entry.flag}${entry.spec.metavar === "" ? "" : `=${entry.spec.metavar}`}`;
      const notes: string[] = [];
      if (
        entry.spec.defaultValue !== undefined &&
        !(entry.spec.isFlag && entry.spec.defaultValue === false)
      ) {
        notes.push(`default: ${entry.spec.format(entry.spec.defaultValue)}`);
      } else if (entry.spec.required) {
        notes.push("required");
      }
      if (entry.spec.env !== undefined) notes.push(`env: ${entry.spec.env}`);
      const doc = entry.spec.doc ?? "";
      const right =
        notes.length === 0 ? doc : `${doc}${doc === "" ? "" : " "}(${notes.join(", ")})`;
      return [left, right] as const;
    });
    const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
    for (const [left, right] of rows) {
      lines.push(
        left.length >= width ? `${left}\n${" ".repeat(width)}${right}` : left.padEnd(width) + right,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
