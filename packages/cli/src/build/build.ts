// `atoll build`: bundles an entry (the application and the drivers sealed with
// it) with the image runtime into one minified, tree-shaken, platform-neutral
// ES module, and writes it after its manifest. Two passes: the first bundle
// is evaluated in an empty realm to learn the entry's name, slots and
// arguments; the second links in only the devices those slots need. Both are
// checked for host resources, and a failure names the import chain.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { gzipSync } from "node:zlib";
import { AtollError } from "@atoll/core";
import { staticKvPlugin } from "@atoll/kv/build";
import * as esbuild from "esbuild";
import { ABI_VERSION, type SlotKind, slotKinds } from "../abi.js";
import { realmGlobals } from "../image/realm.js";
import { formatImage, type ImageDescription, type Manifest } from "../manifest.js";
import { sha256, toScript } from "../tender/image-file.js";
import { lockdownSource } from "../tender/lockdown.js";
import { ownVersion } from "../version.js";
import { sourceMapLookup } from "./sourcemap.js";

export interface BuildOptions {
  /** The entry module: exports `image(App, ...)` as default, or a unikernel. */
  readonly entry: string;
  /** Where to write the image (default: `<name>.atoll` in `cwd`). */
  readonly out?: string;
  /** Extra package export conditions (the monorepo's tests pass "@atoll/source"). */
  readonly conditions?: readonly string[];
  /** Minify (default true). */
  readonly minify?: boolean;
  readonly cwd?: string;
}

export interface BuildResult {
  readonly path: string;
  readonly manifest: Manifest;
  /** Size of the image file, and gzipped. */
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Bytes of the code that are embedded data (`static-kv:` directories), not code. */
  readonly embeddedBytes: number;
  /**
   * Web APIs the image's code names that the realm does not provide (Fetch,
   * URL, streams, crypto, ...; see {@link unprovidedWebApis}), where. Code that
   * reaches one fails when it runs (`globalThis.URL` is undefined there); code that only names one
   * on a path it never takes (a lazy getter) is fine, so this is a warning.
   */
  readonly webApis: readonly HostNeed[];
}

/** One thing in the image that needs the host. */
export interface HostNeed {
  /** `node:fs`, `process`, `@atoll/console/node`, ... */
  readonly what: string;
  readonly kind: "module" | "global" | "host-driver";
  /** Where it is used, `file:line`, when known. */
  readonly at?: string;
  /** The imports leading to it, from the entry. */
  readonly chain: readonly string[];
}

/** The entry cannot be sealed. `needs` lists host resources, with their import chains. */
export class BuildError extends AtollError {
  readonly needs: readonly HostNeed[];
  constructor(
    code: "ATOLL_BUILD_HOST" | "ATOLL_BUILD_FAILED",
    message: string,
    needs: readonly HostNeed[] = [],
  ) {
    super(code, message);
    this.needs = needs;
  }
}

const hostGlobals = [
  "process",
  "Buffer",
  "global",
  "__dirname",
  "__filename",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "clearImmediate",
  "fetch",
  "performance",
] as const;
const globalHints: Record<string, string> = {
  process: "Node's process",
  Buffer: "Node's Buffer",
  setTimeout: "host timers; use the Time device",
  setInterval: "host timers; use the Time device",
  setImmediate: "host timers; use the Time device",
  fetch: "host network; use a Stack over a Netif slot",
  performance: "host clock; use the MonotonicClock device",
  "import.meta": "the module's host location",
};
const marker = (name: string) => `__atoll_host_${name.replace(".", "_")}__`;
const markerPattern = /__atoll_host_(\w+?)__/g;
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The runtime files the image links in, from this package's sources or its dist. */
function runtimeFile(name: "index" | "shims" | "fetch" | "web"): string {
  const here = fileURLToPath(import.meta.url);
  const candidates = here.endsWith(".ts")
    ? [path.join(path.dirname(here), "..", "image", `${name}.ts`)]
    : [
        path.join(path.dirname(here), "image", `${name}.js`),
        path.join(path.dirname(here), "..", "image", `${name}.js`),
      ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined)
    throw new Error(`@atoll/cli is incomplete: image/${name} not found near ${here}`);
  return found;
}

interface Found {
  readonly what: string;
  readonly spec: string;
  readonly kind: HostNeed["kind"];
  readonly importer: string;
}

interface Pass {
  readonly code: string;
  readonly metafile: esbuild.Metafile;
  readonly webApis: readonly HostNeed[];
}

/**
 * Web APIs beyond what image/realm.ts provides (Fetch's classes, URL, Web
 * streams, encoding, events and aborts), which a sealed realm (boundary ABI 1)
 * lacks. `atoll build` reports where the image names them.
 */
export const unprovidedWebApis = [
  "Blob",
  "File",
  "FormData",
  "WebSocket",
  "crypto",
  "structuredClone",
  "navigator",
  "location",
] as const;
const webMarker = (name: string) => `__atoll_web_${name}__`;
const webMarkerPattern = /__atoll_web_(\w+?)__/g;

export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const entry = path.resolve(cwd, options.entry);
  if (!existsSync(entry))
    throw new BuildError("ATOLL_BUILD_FAILED", `${options.entry}: no such file`);
  const runtime = runtimeFile("index");
  const show = (file: string) => path.relative(cwd, file) || file;

  // Pass 1: what the entry declares.
  const describe = await bundle(
    cwd,
    [
      `import * as entry from ${JSON.stringify(entry)};`,
      `import { describeEntry } from ${JSON.stringify(runtime)};`,
      "export default describeEntry(entry);",
    ].join("\n"),
    options,
    false,
  );
  const description = evaluateDescription(describe.code, show(entry));

  // Pass 2: the image, with the devices of its slots only.
  const kinds = [...new Set(Object.values(description.slots).map((id) => slotKinds[id]!))];
  const factory = (kind: SlotKind) => `${kind === "wallclock" ? "wallClock" : kind}Slot`;
  const imports = kinds.map(factory);
  const final = await bundle(
    cwd,
    [
      `import { ${description.export === "default" ? "default as entry" : `${description.export} as entry`} } from ${JSON.stringify(entry)};`,
      `import { bootImage${imports.map((f) => `, ${f}`).join("")} } from ${JSON.stringify(runtime)};`,
      `export default bootImage(entry, { ${kinds.map((k) => `${k}: ${factory(k)}`).join(", ")} });`,
    ].join("\n"),
    options,
    options.minify ?? true,
    { __ATOLL_SEALED__: "true" },
  );

  const code = final.code;
  const manifest: Manifest = {
    format: "atoll.image",
    abi: ABI_VERSION,
    name: description.name,
    version: packageVersion(entry),
    ...(description.description === undefined ? {} : { description: description.description }),
    slots: description.slots,
    args: description.args,
    code: { sha256: sha256(code), bytes: Buffer.byteLength(code) },
    built: { by: `@atoll/cli ${ownVersion()}`, esbuild: esbuild.version },
  };
  const text = formatImage(manifest, code);
  const out = path.resolve(cwd, options.out ?? `${description.name}.atoll`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, text);
  const output = Object.values(final.metafile.outputs).find((o) => o.entryPoint !== undefined);
  const embeddedBytes = Object.entries(output?.inputs ?? {})
    .filter(([input]) => input.startsWith("atoll-static-kv:"))
    .reduce((n, [, i]) => n + i.bytesInOutput, 0);
  return {
    path: out,
    manifest,
    bytes: Buffer.byteLength(text),
    gzipBytes: gzipSync(text, { level: 9 }).length,
    embeddedBytes,
    webApis: final.webApis,
  };
}

async function bundle(
  cwd: string,
  wrapper: string,
  options: BuildOptions,
  minify: boolean,
  defines: Readonly<Record<string, string>> = {},
  topLevelAwait = false,
): Promise<Pass> {
  const found: Found[] = [];
  const packageEntries = new Map<string, Record<string, string> | undefined>();
  const hostCheck: esbuild.Plugin = {
    name: "atoll-host-check",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if ((args.pluginData as { lookup?: boolean } | undefined)?.lookup === true)
          return undefined;
        if (nodeBuiltins.has(args.path)) {
          const what = args.path.startsWith("node:") ? args.path : `node:${args.path}`;
          found.push({ what, spec: args.path, kind: "module", importer: args.importer });
          return { path: args.path, external: true, sideEffects: false };
        }
        const match = /^(@atoll\/[^/]+)(?:\/(.+))?$/.exec(args.path);
        if (match === null) return undefined;
        const [, pkg, sub] = match;
        let entries = packageEntries.get(pkg!);
        if (!packageEntries.has(pkg!)) {
          const resolved = await build.resolve(`${pkg}/package.json`, {
            kind: "import-statement",
            resolveDir: args.resolveDir,
            pluginData: { lookup: true },
          });
          entries =
            resolved.errors.length === 0
              ? (
                  JSON.parse(readFileSync(resolved.path, "utf8")) as {
                    atoll?: { entries?: Record<string, string> };
                  }
                ).atoll?.entries
              : undefined;
          packageEntries.set(pkg!, entries);
        }
        const kind = entries?.[sub === undefined ? "." : `./${sub}`];
        if (kind === "node" || kind === "test") {
          found.push({
            what: args.path,
            spec: args.path,
            kind: "host-driver",
            importer: args.importer,
          });
          return { path: args.path, external: true, sideEffects: false };
        }
        return undefined;
      });
    },
  };
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      stdin: {
        contents: wrapper,
        resolveDir: cwd,
        sourcefile: "atoll-image-entry.js",
        loader: "js",
      },
      absWorkingDir: cwd,
      bundle: true,
      write: false,
      metafile: true,
      outfile: path.join(cwd, "image.js"),
      format: "esm",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      conditions: [...(options.conditions ?? [])],
      resolveExtensions: [".ts", ".mts", ".js", ".mjs", ".json"],
      minify,
      treeShaking: true,
      legalComments: "none",
      charset: "utf8",
      sourcemap: "external",
      sourcesContent: false,
      supported: { "top-level-await": topLevelAwait },
      define: {
        ...Object.fromEntries([...hostGlobals, "import.meta"].map((g) => [g, marker(g)])),
        ...Object.fromEntries(unprovidedWebApis.map((g) => [g, webMarker(g)])),
        // The image's own Web APIs (see image/realm.ts), reached however the code names them.
        ...Object.fromEntries(realmGlobals.map((g) => [`globalThis.${g}`, g])),
        ...defines,
      },
      inject: [runtimeFile("shims"), runtimeFile("fetch"), runtimeFile("web")],
      // `import site from "static-kv:./public"` embeds a directory (@atoll/kv's static store).
      plugins: [hostCheck, realmFeatureTests, staticKvPlugin() as esbuild.Plugin],
      logLevel: "silent",
    });
  } catch (error) {
    // Host resources are the more useful report: a Node entry often also awaits at top level.
    if (found.length > 0 && !topLevelAwait)
      await bundle(cwd, wrapper, options, minify, defines, true).catch((hosted: unknown) => {
        if (hosted instanceof BuildError && hosted.code === "ATOLL_BUILD_HOST") throw hosted;
      });
    const failure = error as esbuild.BuildFailure;
    const lines = (failure.errors ?? []).map(
      (e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ""}${e.text}`,
    );
    throw new BuildError(
      "ATOLL_BUILD_FAILED",
      lines.length > 0
        ? `the bundle failed:\n  ${lines.join("\n  ")}`
        : String((error as Error).message),
    );
  }
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))!;
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  const needs = hostNeeds(js.text, map?.text, result.metafile, found, cwd);
  if (needs.length > 0) throw hostError(needs);
  const webApis = globalsAt(js.text, map?.text, result.metafile, cwd, webMarkerPattern);
  // The image keeps naming them, as properties of its global object (undefined there).
  const code = js.text.replace(webMarkerPattern, (_, name: string) => `globalThis.${name}`);
  return { code, metafile: result.metafile, webApis };
}

/**
 * web-streams-polyfill (injected for ReadableStream and friends) looks for a
 * global object through `global` and for `structuredClone` by feature tests;
 * in an image the answers are known (globalThis, and no structuredClone), so
 * the probes are answered here rather than reported as host needs. Both
 * packages are marked free of side effects.
 */
const realmFeatureTests: esbuild.Plugin = {
  name: "atoll-realm-feature-tests",
  setup(build) {
    // Their modules compute tables when evaluated; an image that uses none of their names drops them.
    build.onResolve({ filter: /^(web-streams-polyfill|whatwg-url-minimum)$/ }, async (args) => {
      if ((args.pluginData as { lookup?: boolean } | undefined)?.lookup === true) return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { lookup: true },
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, sideEffects: false };
    });
    const probes: readonly (readonly [string, string])[] = [
      [':"undefined"!=typeof global?global:void 0', ":void 0"],
      ['"function"==typeof structuredClone?e=>structuredClone(e,{transfer:[e]}):', ""],
    ];
    build.onLoad({ filter: /[\\/]web-streams-polyfill[\\/]dist[\\/]ponyfill\.mjs$/ }, (args) => {
      let text = readFileSync(args.path, "utf8");
      for (const [probe, answer] of probes) {
        if (!text.includes(probe))
          throw new Error(
            `${args.path}: this version of web-streams-polyfill probes for host globals differently; update atoll build's realmFeatureTests`,
          );
        text = text.replace(probe, answer);
      }
      return { contents: text, loader: "js" };
    });
  },
};

/** The host resources that survived tree-shaking, each with an import chain from the entry. */
function hostNeeds(
  code: string,
  mapText: string | undefined,
  metafile: esbuild.Metafile,
  found: readonly Found[],
  cwd: string,
): HostNeed[] {
  const chainTo = chains(metafile);
  const rel = (file: string) => (path.isAbsolute(file) ? path.relative(cwd, file) : file);
  const output =
    Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined) ??
    Object.values(metafile.outputs)[0];
  const kept = new Set((output?.imports ?? []).filter((i) => i.external).map((i) => i.path));
  const needs: HostNeed[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    if (!kept.has(f.spec)) continue;
    const importer = rel(f.importer);
    const key = `${f.what}@${importer}`;
    if (seen.has(key)) continue;
    seen.add(key);
    needs.push({
      what: f.what,
      kind: f.kind,
      chain: [...(chainTo(importer) ?? [importer]), f.what],
    });
  }
  needs.push(...globalsAt(code, mapText, metafile, cwd, markerPattern));
  return needs;
}

/** The globals `pattern` (a marker left by `define`) finds in the code, each once per source line. */
function globalsAt(
  code: string,
  mapText: string | undefined,
  metafile: esbuild.Metafile,
  cwd: string,
  pattern: RegExp,
): HostNeed[] {
  const needs: HostNeed[] = [];
  const seen = new Set<string>();
  const chainTo = chains(metafile);
  const lookup = mapText === undefined ? undefined : sourceMapLookup(JSON.parse(mapText));
  const lineStarts = [0];
  for (let i = code.indexOf("\n"); i >= 0; i = code.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  for (const match of code.matchAll(pattern)) {
    const name = match[1] === "import_meta" ? "import.meta" : match[1]!;
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= match.index) line++;
    const at = lookup?.(line, match.index - lineStarts[line]!);
    const source = at === undefined ? undefined : path.relative(cwd, path.resolve(cwd, at.source));
    const key = `${name}@${source}:${at?.line}`;
    if (seen.has(key)) continue;
    seen.add(key);
    needs.push({
      what: name,
      kind: "global",
      ...(at === undefined ? {} : { at: `${source}:${at.line}` }),
      chain: source === undefined ? [] : (chainTo(source) ?? [source]),
    });
  }
  return needs;
}

/** Shortest import chains from the entry to every input of the bundle. */
function chains(metafile: esbuild.Metafile): (input: string) => string[] | undefined {
  const start = Object.keys(metafile.inputs).find((k) => k.endsWith("atoll-image-entry.js"));
  const previous = new Map<string, string | undefined>();
  if (start !== undefined) {
    previous.set(start, undefined);
    const queue = [start];
    while (queue.length > 0) {
      const at = queue.shift()!;
      for (const imp of metafile.inputs[at]?.imports ?? []) {
        if (imp.external || previous.has(imp.path)) continue;
        previous.set(imp.path, at);
        queue.push(imp.path);
      }
    }
  }
  return (input) => {
    if (!previous.has(input)) return undefined;
    const chain: string[] = [];
    for (
      let at: string | undefined = input;
      at !== undefined && at !== start;
      at = previous.get(at)
    )
      chain.unshift(at);
    return chain;
  };
}

function hostError(needs: readonly HostNeed[]): BuildError {
  const lines = needs.map((n) => {
    const what =
      n.kind === "global"
        ? `${n.what} (${globalHints[n.what] ?? "a host global"})${n.at ? ` at ${n.at}` : ""}`
        : n.kind === "host-driver"
          ? `${n.what} (a host-only entry point)`
          : n.what;
    return `  ${what}\n    import chain: ${n.chain.join(" → ")}`;
  });
  return new BuildError(
    "ATOLL_BUILD_HOST",
    `the image would need host resources, which belong to the tender:\n${lines.join("\n")}\nDeclare a device slot for what the host must provide (a Netif, a Block, ...) and bind host drivers in a tender, not in the image.`,
    needs,
  );
}

/** Evaluates the describe bundle in an empty realm (as the tender would) and reads its JSON. */
function evaluateDescription(code: string, entry: string): ImageDescription {
  const script = toScript(code);
  if (script === undefined)
    throw new BuildError("ATOLL_BUILD_FAILED", "the bundle has no default export");
  const context = vm.createContext(vm.constants.DONT_CONTEXTIFY, {
    codeGeneration: { strings: true, wasm: false },
  });
  vm.runInContext(lockdownSource(), context);
  const guarded = `(function(){try{${script};return JSON.stringify({ok:globalThis[Symbol.for("atoll.start")]})}catch(e){return JSON.stringify({error:String(e&&e.message||e)})}})()`;
  let out: unknown;
  try {
    out = vm.runInContext(guarded, context, { timeout: 10_000 });
  } catch {
    throw new BuildError("ATOLL_BUILD_FAILED", `${entry} did not finish evaluating within 10 s`);
  }
  const result =
    typeof out === "string" ? (JSON.parse(out) as { ok?: unknown; error?: string }) : {};
  if (typeof result.ok !== "string")
    throw new BuildError(
      "ATOLL_BUILD_FAILED",
      `evaluating it failed: ${result.error ?? "it evaluated to nothing"}`,
    );
  return JSON.parse(result.ok) as ImageDescription;
}

function packageVersion(file: string): string {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "package.json");
    if (existsSync(candidate)) {
      const version = (JSON.parse(readFileSync(candidate, "utf8")) as { version?: unknown })
        .version;
      return typeof version === "string" ? version : "0.0.0";
    }
    if (path.dirname(dir) === dir) return "0.0.0";
  }
}
