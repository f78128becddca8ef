// `atoll new`: writes a unikernel project or a driver package from the
// templates in this package's templates/ directory (real TypeScript, linted
// and type-checked by this repository's tests), with `__NAME__` (the name as
// given), `__Name__` (PascalCase) and `__camel__` (camelCase) filled in. The
// projects stand alone: TypeScript, vitest, and the published @atoll packages.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AtollError } from "@atoll/core";

/** The scaffold cannot be written (bad name, unknown signature, directory not empty). */
export class ScaffoldError extends AtollError {
  constructor(message: string) {
    super("ATOLL_SCAFFOLD", message);
  }
}

export interface Scaffolded {
  readonly dir: string;
  /** Written files, relative to dir. */
  readonly files: readonly string[];
}

const ATOLL_RANGE = "^0.1.0";
const versions = {
  typescript: "5.9.3",
  vitest: "4.1.12",
  "fast-check": "4.11.0",
  "@types/node": "20.19.43",
  tsx: "4.23.15",
};

const camel = (name: string) => name.replace(/[-_.](\w)/g, (_, c: string) => c.toUpperCase());
const pascal = (name: string) => camel(name).replace(/^\w/, (c) => c.toUpperCase());

function checkName(name: string): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new ScaffoldError(
      `"${name}" is not a usable name: lower-case letters, digits and dashes, starting with a letter`,
    );
}

/** The templates directory, next to this file's sources or its build. */
function templatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const found = [path.join(here, "..", "..", "templates"), path.join(here, "..", "templates")].find(
    (dir) => existsSync(path.join(dir, "app")),
  );
  if (found === undefined) throw new Error(`@atoll/cli is incomplete: no templates near ${here}`);
  return found;
}

/** Every file under `dir`, relative to it, with the placeholders filled in. */
function readTemplate(dir: string, name: string): Record<string, string> {
  const files: Record<string, string> = {};
  const fill = (text: string) =>
    text
      .replaceAll("__NAME__", name)
      .replaceAll("__Name__", pascal(name))
      .replaceAll("__camel__", camel(name));
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full)] = fill(readFileSync(full, "utf8"));
  }
  return files;
}

function write(dir: string, files: Record<string, string>): Scaffolded {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ScaffoldError(`${dir} exists and is not empty; choose another name or --dir`);
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return { dir, files: Object.keys(files) };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const atoll = (packages: readonly string[]) =>
  Object.fromEntries(packages.map((p) => [`@atoll/${p}`, ATOLL_RANGE]));

const tsconfig = json({
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023", "DOM"],
    module: "ESNext",
    moduleResolution: "Bundler",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["src", "test"],
});

export interface AppOptions {
  readonly name: string;
  readonly dir: string;
}

/**
 * A unikernel project: a TCP service over the Stack signature, a Node entry on
 * the host's sockets, an image entry with Atoll's own stack, and a test on a
 * memory switch under virtual time.
 */
export function scaffoldApp({ name, dir }: AppOptions): Scaffolded {
  checkName(name);
  return write(dir, {
    "package.json": json({
      name,
      version: "0.1.0",
      private: true,
      type: "module",
      description: `${name}: an Atoll unikernel`,
      engines: { node: ">=20" },
      scripts: {
        start: "tsx src/main.ts",
        test: "vitest run",
        typecheck: "tsc --noEmit",
        image: `atoll build src/image.ts --out dist/${name}.atoll`,
        sealed: `atoll run dist/${name}.atoll`,
      },
      dependencies: atoll(["core", "platform", "tcpip"]),
      devDependencies: {
        ...atoll(["cli", "clock", "entropy", "netif"]),
        "@types/node": versions["@types/node"],
        tsx: versions.tsx,
        typescript: versions.typescript,
        vitest: versions.vitest,
      },
    }),
    "tsconfig.json": tsconfig,
    ...readTemplate(path.join(templatesDir(), "app"), name),
    ".gitignore": "node_modules/\ndist/\n",
  });
}

interface DriverTemplate {
  /** The package whose signature the driver provides. */
  readonly pkg: string;
  readonly signature: string;
  readonly conformance: string;
  /** Other @atoll packages the driver's code imports (besides core and pkg). */
  readonly uses?: readonly string[];
  /** @atoll packages only its tests import. */
  readonly testUses?: readonly string[];
}

const templates: Record<string, DriverTemplate> = {
  netif: { pkg: "netif", signature: "Netif", conformance: "netifConformance" },
  block: { pkg: "block", signature: "Block", conformance: "blockConformance" },
  kv: { pkg: "kv", signature: "KvRw", conformance: "kvRwConformance", testUses: ["clock"] },
  console: { pkg: "console", signature: "Console", conformance: "consoleConformance" },
  clock: { pkg: "clock", signature: "MonotonicClock", conformance: "monotonicClockConformance" },
  random: { pkg: "entropy", signature: "Random", conformance: "randomConformance" },
};

export const signatureChoices = Object.keys(templates);

export interface DriverOptions {
  readonly name: string;
  readonly dir: string;
  /** Which signature the driver provides: one of signatureChoices. */
  readonly signature: string;
}

/** A driver package whose tests run the signature's conformance suite. */
export function scaffoldDriver({ name, dir, signature }: DriverOptions): Scaffolded {
  checkName(name);
  const t = templates[signature];
  if (t === undefined)
    throw new ScaffoldError(
      signature === ""
        ? `atoll new driver needs --signature ${signatureChoices.join("|")}`
        : `no driver template for "${signature}": choose one of ${signatureChoices.join(", ")}`,
    );
  const pkg = `@atoll/${t.pkg}`;
  return write(dir, {
    "package.json": json({
      name,
      version: "0.1.0",
      type: "module",
      description: `${name}: an Atoll ${t.signature} driver`,
      sideEffects: false,
      engines: { node: ">=20" },
      exports: { ".": "./src/index.ts" },
      scripts: { test: "vitest run", typecheck: "tsc --noEmit" },
      dependencies: atoll(["core", t.pkg, ...(t.uses ?? [])]),
      devDependencies: {
        ...atoll(t.testUses ?? []),
        "@types/node": versions["@types/node"],
        "fast-check": versions["fast-check"],
        typescript: versions.typescript,
        vitest: versions.vitest,
      },
    }),
    "tsconfig.json": tsconfig,
    ...readTemplate(path.join(templatesDir(), "driver", signature), name),
    "README.md": `# ${name}

An [Atoll](https://github.com/atoll-os/atoll) driver providing \`${t.signature}\`
from \`${pkg}\`. \`npm test\` runs the signature's conformance suite
(\`${t.conformance}\` from \`${pkg}/conformance\`) against it: the same suite
every driver of that signature passes, in Atoll's repository or elsewhere.
`,
    ".gitignore": "node_modules/\n",
  });
}
