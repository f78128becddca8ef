// The `atoll` command: argument parsing, progress and errors for a terminal.
// Every command takes --help; usage and attachment errors exit with 2, and
// `run` exits with the image's status (0, 1, 255 as Solo5).

import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { isAtollError } from "@atoll/core";
import { providedKinds, slotKinds } from "./abi.js";
import type { Manifest, ParsedImage } from "./manifest.js";
import { loadImage } from "./tender/image-file.js";
import {
  type BlockAttachment,
  DEFAULT_MEMORY_MB,
  MIN_MEMORY_MB,
  type PrestartedVcpu,
  startImage,
} from "./tender/tender.js";
import { ownVersion } from "./version.js";

// build and new load esbuild and the templates; \`run\` starts faster without them.
const loadBuild = () => import("./build/build.js");
const loadScaffold = () => import("./new/scaffold.js");
type HostNeed = import("./build/build.js").HostNeed;
const signatureList = "netif|block|kv|console|clock|random";

export interface CliIo {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly stdin: Readable;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Handles Ctrl-C while an image runs (default: process signals). */
  readonly signals?: boolean;
  /** The vCPU thread bin/atoll.mjs started for `run` before loading this module. */
  readonly vcpu?: PrestartedVcpu;
}

class UsageError extends Error {}

type Style = (text: string) => string;
interface Styles {
  readonly bold: Style;
  readonly dim: Style;
  readonly red: Style;
  readonly green: Style;
  readonly yellow: Style;
  readonly cyan: Style;
}

function styles(stream: { isTTY?: boolean }, env: CliIo["env"]): Styles {
  const on = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
  const wrap = (open: number, close: number): Style =>
    on ? (t) => `\x1b[${open}m${t}\x1b[${close}m` : (t) => t;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

const usage = `atoll — build, inspect and run sealed Atoll unikernel images

Usage:
  atoll build ENTRY [--out FILE]           seal an application into one image file
  atoll inspect IMAGE [--json]             print an image's manifest without running it
  atoll run IMAGE [OPTIONS] [-- ARGS]      run an image with nothing but its declared devices
  atoll new app NAME                       scaffold a unikernel project
  atoll new driver NAME --signature SIG    scaffold a driver package with its conformance suite

Options:
  -h, --help       help for atoll or for a command
  -v, --version    print the version

Run "atoll COMMAND --help" for a command's options.
`;

const help: Record<string, string> = {
  build: `atoll build — seal an application into one image file

Usage: atoll build ENTRY [--out FILE] [--condition NAME]... [--no-minify]

ENTRY is a module whose default export is image(App, { bindings }) from
@atoll/cli/image, or a module exporting one unikernel (createUnikernel's
result). The image is one minified, tree-shaken, platform-neutral ES module
with a manifest: name, version, device slots and runtime arguments. Anything
in it that needs the host (node:*, Buffer, process, host timers, a host-only
driver) fails the build with its import chain. \`import files from
"static-kv:DIR"\` embeds a directory for @atoll/kv's static store.

Options:
  --out FILE          where to write the image (default: NAME.atoll)
  --condition NAME    also resolve package exports under this condition (repeatable)
  --no-minify         keep the code readable
  -h, --help          this help
`,
  inspect: `atoll inspect — print an image's manifest without running it

Usage: atoll inspect IMAGE [--json]

Options:
  --json       the manifest as JSON
  -h, --help   this help
`,
  run: `atoll run — run an image with nothing but its declared devices

Usage: atoll run IMAGE [--mem=MB] [--net:SLOT=tapN|tap:IFNAME|switch:NAME]
                       [--block:SLOT=PATH] [--block-ro:SLOT=PATH] [--kv:SLOT=DIR]
                       [-- ARGS...]

The image runs in its own thread, in a realm holding ECMAScript built-ins and
its devices only. Console, clocks, time and random slots are provided by the
tender; every network, block and kv slot must be attached, and attaching a slot
the image does not declare is an error. ARGS go to the application
(-- --help lists them).

Options:
  --mem=MB                 the image's memory limit in MiB (default ${DEFAULT_MEMORY_MB})
  --net:SLOT=tapN          attach a network slot to a TAP interface (tap0, tap1, ...;
                           created when missing; needs CAP_NET_ADMIN)
  --net:SLOT=tap:IFNAME    the same, for a TAP interface of any name
  --net:SLOT=switch:NAME   attach a network slot to the switch NAME, shared by every
                           atoll run of this user on this host
  --block:SLOT=PATH        attach a block slot to a disk image file or block device,
                           read-write (one writer at a time: the image is locked)
  --block-ro:SLOT=PATH     the same, read-only (any number of readers)
  --kv:SLOT=DIR            attach a kv slot to a host directory: read-write for a
                           KvRw slot (atoll.kv.rw/1), read-only for a KvRo slot
  -h, --help               this help

Exit status: the image's (0 success, 1 failure, 255 abort), 2 for usage and
attachment errors, 130 when interrupted twice.
`,
  new: `atoll new — scaffold a project

Usage:
  atoll new app NAME [--dir DIR]
  atoll new driver NAME --signature ${signatureList} [--dir DIR]

"app" writes a unikernel project: package.json with the @atoll dependencies,
a TCP service over the Stack signature, a Node entry on the host's sockets, an
image entry with Atoll's own TCP/IP, and a test that runs it on a memory switch
under virtual time. "driver" writes a driver package whose tests run the
signature's conformance suite against it.

Options:
  --dir DIR            where to create the project (default: ./NAME)
  --signature SIG      the signature the driver provides
  -h, --help           this help
`,
};

interface Parsed {
  readonly positional: string[];
  readonly options: Map<string, string[]>;
  readonly rest: string[];
  readonly help: boolean;
}

/** `--name=value`, `--name value` (for options that take a value), `--flag`, and `--` for the rest. */
function parse(
  argv: readonly string[],
  valued: ReadonlySet<string>,
  flags: ReadonlySet<string>,
): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  let rest: string[] = [];
  let wantsHelp = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (token === "-h" || token === "--help") {
      wantsHelp = true;
      continue;
    }
    if (!token.startsWith("--")) {
      if (token.startsWith("-") && token !== "-") throw new UsageError(`unknown option ${token}`);
      positional.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const name = eq < 0 ? token.slice(2) : token.slice(2, eq);
    const family = name.includes(":") ? `${name.slice(0, name.indexOf(":"))}:` : name;
    let value: string;
    if (flags.has(family)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      value = "";
    } else if (valued.has(family)) {
      if (eq >= 0) value = token.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith("--"))
          throw new UsageError(`--${name} needs a value`);
        value = next;
        i++;
      }
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
    const list = options.get(name) ?? [];
    list.push(value);
    options.set(name, list);
  }
  return { positional, options, rest, help: wantsHelp };
}

const one = (p: Parsed, name: string): string | undefined => {
  const values = p.options.get(name);
  if (values !== undefined && values.length > 1) throw new UsageError(`--${name} is given twice`);
  return values?.[0];
};

export function formatBytes(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const kindNote = (id: string) => {
  const kind = slotKinds[id];
  if (kind === undefined) return "not servable by this tender";
  if (providedKinds.has(kind)) return "provided by the tender";
  return kind === "net"
    ? "attach with --net:SLOT=tapN|tap:IFNAME|switch:NAME"
    : kind === "kv"
      ? "attach with --kv:SLOT=DIR"
      : "attach with --block:SLOT=PATH or --block-ro:SLOT=PATH";
};

/** The manifest for people. */
export function formatManifest(file: string, image: ParsedImage, s: Styles): string {
  const m: Manifest = image.manifest;
  const lines: string[] = [];
  lines.push(
    `${s.bold(m.name)} ${m.version}${m.description === undefined ? "" : ` — ${m.description}`}`,
  );
  lines.push(
    s.dim(
      `${file}: boundary ABI ${m.abi}, ${formatBytes(m.code.bytes)} of code, sha256 ${m.code.sha256.slice(0, 16)}…, built by ${m.built.by} (esbuild ${m.built.esbuild})`,
    ),
  );
  lines.push("", s.bold("Slots:"));
  const slots = Object.entries(m.slots);
  if (slots.length === 0) lines.push("  (none)");
  const w1 = Math.max(0, ...slots.map(([n]) => n.length));
  const w2 = Math.max(0, ...slots.map(([, id]) => id.length));
  for (const [name, id] of slots)
    lines.push(`  ${s.cyan(name.padEnd(w1))}  ${id.padEnd(w2)}  ${s.dim(kindNote(id))}`);
  lines.push("", s.bold("Arguments") + s.dim(" (after --):"));
  const rows = m.args.map((a) => {
    const left = `--${a.flag}${a.metavar === "" ? "" : `=${a.metavar}`}`;
    const notes = a.default !== undefined ? `default: ${a.default}` : a.required ? "required" : "";
    const doc = a.doc ?? "";
    return [left, notes === "" ? doc : `${doc}${doc === "" ? "" : " "}(${notes})`] as const;
  });
  const w = Math.min(30, Math.max(0, ...rows.map(([l]) => l.length)));
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(w)}  ${right}`);
  const attach = slots
    .filter(([, id]) => !providedKinds.has(slotKinds[id]!))
    .map(([name, id]) =>
      slotKinds[id] === "net"
        ? ` --net:${name}=tap0`
        : slotKinds[id] === "kv"
          ? ` --kv:${name}=DIR`
          : ` --block:${name}=disk.img`,
    )
    .join("");
  lines.push(
    "",
    s.bold("Run:"),
    `  atoll run ${file}${attach}${m.args.length > 1 ? " -- --help" : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

async function build(p: Parsed, io: CliIo, out: Styles, err: Styles): Promise<number> {
  if (p.positional.length !== 1) throw new UsageError("atoll build takes one ENTRY");
  const outFile = one(p, "out");
  const started = performance.now();
  const { BuildError, buildImage } = await loadBuild();
  try {
    const result = await buildImage({
      entry: p.positional[0]!,
      cwd: io.cwd,
      ...(outFile === undefined ? {} : { out: outFile }),
      conditions: p.options.get("condition") ?? [],
      minify: !p.options.has("no-minify"),
    });
    const relative = path.relative(io.cwd, result.path);
    const rel = relative === "" || relative.startsWith("..") ? result.path : relative;
    const m = result.manifest;
    const slots = Object.entries(m.slots).map(([n, id]) => `${n} ${out.dim(`(${id})`)}`);
    io.stdout.write(
      [
        `${out.green("sealed")} ${out.bold(m.name)} ${m.version} → ${rel} ${out.dim(`in ${Math.round(performance.now() - started)} ms`)}`,
        `  size    ${formatBytes(result.bytes)}, ${formatBytes(result.gzipBytes)} gzipped`,
        `  slots   ${slots.length === 0 ? "(none)" : slots.join(", ")}`,
        `  run     atoll run ${rel}`,
        "",
      ].join("\n"),
    );
    if (result.webApis.length > 0) io.stderr.write(formatWebApis(result.webApis, err));
    return 0;
  } catch (error) {
    if (error instanceof BuildError) {
      io.stderr.write(
        `${err.red("atoll build:")} ${p.positional[0]} cannot be sealed: ${error.message}\n`,
      );
      return 1;
    }
    throw error;
  }
}

/** The build's warning: Web APIs the image names that its realm will not have, grouped by name. */
function formatWebApis(needs: readonly HostNeed[], err: Styles): string {
  const where = new Map<string, string[]>();
  for (const n of needs) where.set(n.what, [...(where.get(n.what) ?? []), n.at ?? "?"]);
  const lines = [...where].map(
    ([name, at]) =>
      `  ${name.padEnd(15)} ${at.slice(0, 3).join(", ")}${at.length > 3 ? `, and ${at.length - 3} more` : ""}`,
  );
  return `${err.yellow("warning:")} the image names Web APIs a sealed realm does not provide (boundary ABI 1); code that reaches one fails when it runs:\n${lines.join("\n")}\n`;
}

function inspect(p: Parsed, io: CliIo, out: Styles): number {
  if (p.positional.length !== 1) throw new UsageError("atoll inspect takes one IMAGE");
  const file = p.positional[0]!;
  const image = loadImage(path.resolve(io.cwd, file));
  io.stdout.write(
    p.options.has("json")
      ? `${JSON.stringify(image.manifest, null, 2)}\n`
      : formatManifest(file, image, out),
  );
  return 0;
}

async function run(p: Parsed, io: CliIo, err: Styles): Promise<number> {
  if (p.positional.length !== 1)
    throw new UsageError("atoll run takes one IMAGE (application arguments go after --)");
  const memText = one(p, "mem");
  let memoryMb: number | undefined;
  if (memText !== undefined) {
    memoryMb = /^\d+$/.test(memText) ? Number(memText) : Number.NaN;
    if (!Number.isSafeInteger(memoryMb) || memoryMb < MIN_MEMORY_MB)
      throw new UsageError(
        `--mem=${memText}: expected a whole number of MiB, at least ${MIN_MEMORY_MB}`,
      );
  }
  const net: Record<string, string> = {};
  const block: Record<string, BlockAttachment> = {};
  const kv: Record<string, string> = {};
  for (const [name, values] of p.options) {
    const match = /^(net|block|block-ro|kv):(.+)$/.exec(name);
    if (match === null) continue;
    const [, kind, slot] = match as unknown as [
      string,
      "net" | "block" | "block-ro" | "kv",
      string,
    ];
    if (values.length > 1) throw new UsageError(`--${name} is given twice`);
    const value = values[0]!;
    if (kind === "net") net[slot] = value;
    else if (kind === "kv") kv[slot] = value === "" ? value : path.resolve(io.cwd, value);
    else {
      if (block[slot] !== undefined)
        throw new UsageError(
          `slot "${slot}" is attached twice (--block:${slot} and --block-ro:${slot})`,
        );
      block[slot] = kind === "block" ? value : { path: value, readOnly: true };
    }
  }
  for (const kind of ["net", "block", "block-ro", "kv"] as const)
    if (p.options.has(kind))
      throw new UsageError(`--${kind} needs a slot name: --${kind}:SLOT=...`);
  const attachments = { net, block, kv };
  const file = path.resolve(io.cwd, p.positional[0]!);
  const running = await startImage(file, {
    argv: p.rest,
    ...(memoryMb === undefined ? {} : { memoryMb }),
    ...attachments,
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    ...(io.vcpu === undefined ? {} : { vcpu: io.vcpu }),
  });
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) running.stop();
    else void running.kill();
  };
  if (io.signals !== false) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  try {
    const result = await running.done;
    if (result.violations.length > 0)
      io.stderr.write(
        `${err.red("atoll run:")} ${running.name} broke the boundary ABI; the tender dropped what it sent and kept running:\n${result.violations.map((v) => `  - ${v}`).join("\n")}\n`,
      );
    if (result.message !== undefined)
      io.stderr.write(`${err.red("atoll run:")} ${result.message}\n`);
    return interrupts > 1 ? 130 : result.status;
  } finally {
    if (io.signals !== false) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}

async function scaffold(p: Parsed, io: CliIo, out: Styles): Promise<number> {
  const [what, name] = p.positional;
  if (p.positional.length !== 2 || (what !== "app" && what !== "driver"))
    throw new UsageError('atoll new takes "app NAME" or "driver NAME --signature SIG"');
  const dir = path.resolve(io.cwd, one(p, "dir") ?? name!);
  const { scaffoldApp, scaffoldDriver } = await loadScaffold();
  const result =
    what === "app"
      ? scaffoldApp({ name: name!, dir })
      : scaffoldDriver({ name: name!, dir, signature: one(p, "signature") ?? "" });
  const rel = path.relative(io.cwd, dir) || ".";
  io.stdout.write(
    `${out.green("created")} ${what} ${out.bold(name!)} in ${rel}\n${result.files.map((f) => `  ${f}`).join("\n")}\n\nNext:\n  cd ${rel}\n  npm install\n  npm test\n`,
  );
  return 0;
}

const commands: Record<string, { valued: string[]; flags: string[] }> = {
  build: { valued: ["out", "condition"], flags: ["no-minify"] },
  inspect: { valued: [], flags: ["json"] },
  run: { valued: ["mem", "net:", "block:", "block-ro:", "kv:"], flags: [] },
  new: { valued: ["dir", "signature"], flags: [] },
};

/** Runs the atoll command; resolves with its exit status. */
export async function main(argv: readonly string[], io?: Partial<CliIo>): Promise<number> {
  const full: CliIo = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    stdin: io?.stdin ?? process.stdin,
    cwd: io?.cwd ?? process.cwd(),
    env: io?.env ?? process.env,
    ...(io?.signals === undefined ? {} : { signals: io.signals }),
    ...(io?.vcpu === undefined ? {} : { vcpu: io.vcpu }),
  };
  try {
    return await command(argv, full);
  } finally {
    // A thread started ahead for `run` and not used (a usage error, --help) ends here.
    full.vcpu?.dispose();
  }
}

async function command(argv: readonly string[], full: CliIo): Promise<number> {
  const out = styles(full.stdout, full.env);
  const err = styles(full.stderr, full.env);
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    full.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === "-v" || command === "--version") {
    full.stdout.write(`atoll ${ownVersion()}\n`);
    return 0;
  }
  const spec = commands[command];
  if (spec === undefined) {
    full.stderr.write(`${err.red("atoll:")} unknown command "${command}"\n\n${usage}`);
    return 2;
  }
  try {
    const p = parse(rest, new Set(spec.valued), new Set(spec.flags));
    if (p.help) {
      full.stdout.write(help[command]!);
      return 0;
    }
    if (command !== "run" && p.rest.length > 0)
      throw new UsageError(`atoll ${command} takes no arguments after --`);
    switch (command) {
      case "build":
        return await build(p, full, out, err);
      case "inspect":
        return inspect(p, full, out);
      case "run":
        return await run(p, full, err);
      default:
        return await scaffold(p, full, out);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      full.stderr.write(
        `${err.red(`atoll ${command}:`)} ${error.message}\nTry "atoll ${command} --help".\n`,
      );
      return 2;
    }
    if (isAtollError(error)) {
      full.stderr.write(`${err.red(`atoll ${command}:`)} ${error.message}\n`);
      return 2;
    }
    full.stderr.write(
      `${err.red(`atoll ${command}:`)} ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
