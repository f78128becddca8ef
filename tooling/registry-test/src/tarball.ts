// What a published tarball must and must not hold. A user gets built code,
// declarations, README, LICENSE and CHANGELOG (plus whatever else the package
// deliberately lists in `files`, such as a native addon's sources); never
// tests, TypeScript sources, build configuration, workspace protocol ranges,
// the `@atoll/source` condition or paths into the workspace.

import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Tarball {
  readonly name: string;
  readonly version: string;
  /** The .tgz file. */
  readonly file: string;
  /** Where it was extracted (the `package/` directory). */
  readonly dir: string;
  readonly manifest: Record<string, any>;
  /** Paths inside the package, `/`-separated, sorted. */
  readonly files: readonly string[];
}

/** Downloads `name@version` from `registry` into `into` and extracts it. */
export async function fetchTarball(
  registry: string,
  name: string,
  version: string,
  into: string,
): Promise<Tarball> {
  const packument = (await (await fetch(new URL(name.replace("/", "%2f"), registry))).json()) as {
    versions?: Record<string, { dist?: { tarball?: string } }>;
  };
  const url = packument.versions?.[version]?.dist?.tarball;
  if (!url) throw new Error(`${name}@${version} is not on ${registry}`);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  const base = `${name.replace("@", "").replace("/", "-")}-${version}`;
  mkdirSync(into, { recursive: true });
  const file = path.join(into, `${base}.tgz`);
  writeFileSync(file, new Uint8Array(await response.arrayBuffer()));
  return extractTarball(file, path.join(into, base));
}

export function extractTarball(file: string, into: string): Tarball {
  mkdirSync(into, { recursive: true });
  execFileSync("tar", ["-xzf", file, "-C", into]);
  const dir = path.join(into, "package");
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  return {
    name: manifest.name,
    version: manifest.version,
    file,
    dir,
    manifest,
    files: listFiles(dir),
  };
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

const ALWAYS = new Set(["package.json", "README.md", "LICENSE", "CHANGELOG.md"]);
const NEVER: readonly [RegExp, string][] = [
  [/(^|\/)(test|tests|__tests__|__fixtures__|fixtures?)\//, "a test directory"],
  [/\.(test|spec|bench)\.[cm]?[jt]sx?$/, "a test or benchmark file"],
  [/(^|\/)tsconfig[^/]*\.json$|\.tsbuildinfo$/, "TypeScript build configuration"],
  [/(^|\/)(tsup|vitest|vite|biome|turbo)\.config\.|(^|\/)biome\.json$/, "build configuration"],
  [/(?<!\.d)\.[cm]?tsx?$/, "a TypeScript source (only .d.ts belongs in a tarball)"],
  [/(^|\/)node_modules\//, "node_modules"],
  [/(^|\/)\.(turbo|changeset|git)(\/|$)/, "repository metadata"],
];

/** What even a declared scaffold directory must not hold. */
const SCAFFOLD_NEVER = NEVER.filter(([, what]) =>
  ["node_modules", "repository metadata"].includes(what),
);

export interface Expectations {
  /** The workspace package.json the tarball was packed from. */
  readonly source: Record<string, any>;
  /** Whether the workspace package has a CHANGELOG.md. */
  readonly hasChangelog: boolean;
  /** Versions of the workspace packages, for checking converted `workspace:` ranges. */
  readonly versions: ReadonlyMap<string, string>;
  /** Strings that must appear in no file (the workspace's absolute path). */
  readonly forbiddenText: readonly string[];
}

/** Everything wrong with a published tarball; empty when it is right. */
export function tarballProblems(tarball: Tarball, expect: Expectations): string[] {
  const problems: string[] = [];
  const { manifest, files } = tarball;
  const declared = ((expect.source.files ?? []) as string[])
    .map((f) => f.replace(/^\.\//, "").replace(/\/$/, ""))
    .filter((f) => f !== "dist" && !ALWAYS.has(f));

  for (const file of files) {
    const allowed =
      ALWAYS.has(file) ||
      file.startsWith("dist/") ||
      declared.some((d) => file === d || file.startsWith(`${d}/`));
    if (!allowed) problems.push(`${file}: not dist, README, LICENSE, CHANGELOG or a declared file`);
    // Scaffolding a package declares (`templates/`, copied by `atoll new`) is
    // source by nature: sources, tests and configs are its content.
    const scaffold = file.startsWith("templates/") && declared.includes("templates");
    for (const [pattern, what] of scaffold ? SCAFFOLD_NEVER : NEVER) {
      if (pattern.test(file)) problems.push(`${file}: ${what}`);
    }
  }
  for (const required of ["README.md", "LICENSE"]) {
    if (!files.includes(required)) problems.push(`${required} is missing`);
  }
  // `pnpm version-packages` writes CHANGELOG.md; `files` must already let it into the tarball.
  if (!((expect.source.files ?? []) as string[]).includes("CHANGELOG.md"))
    problems.push('"files" does not list CHANGELOG.md');
  if (expect.hasChangelog && !files.includes("CHANGELOG.md"))
    problems.push("CHANGELOG.md is missing (the workspace package has one)");
  if (!files.some((f) => f.startsWith("dist/") && f.endsWith(".d.ts")))
    problems.push("no type declarations in dist/");

  // Every file the manifest points at is in the tarball.
  for (const target of manifestTargets(manifest)) {
    const rel = target.replace(/^\.\//, "");
    if (!files.includes(rel)) problems.push(`package.json points at ${target}, which is missing`);
  }

  const text = JSON.stringify(manifest);
  if (text.includes("workspace:")) problems.push("package.json still has a workspace: range");
  if (text.includes("@atoll/source"))
    problems.push("package.json still has the @atoll/source condition");
  if (text.includes("../")) problems.push("package.json has a path leaving the package (../)");
  if (manifest.devDependencies) problems.push("package.json keeps devDependencies");
  for (const script of Object.keys(manifest.scripts ?? {})) {
    if (!["preinstall", "install", "postinstall"].includes(script))
      problems.push(`package.json keeps the development script "${script}"`);
  }
  if (expect.source.publishConfig?.exports !== undefined) {
    if (JSON.stringify(manifest.exports) !== JSON.stringify(expect.source.publishConfig.exports))
      problems.push("exports is not the workspace package's publishConfig.exports");
  }
  if (manifest.publishConfig?.exports !== undefined)
    problems.push("publishConfig.exports was published as well as exports");

  // workspace:^ / workspace:~ / workspace:* become ^v / ~v / v of the version published.
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
      const version = expect.versions.get(dep);
      if (version === undefined) continue;
      if (![`^${version}`, `~${version}`, version].includes(range))
        problems.push(`${field}.${dep} is "${range}", not a range of its version ${version}`);
    }
  }

  for (const file of files) {
    const full = path.join(tarball.dir, file);
    if (statSync(full).size > 8 * 1024 * 1024) continue;
    const content = readFileSync(full, "latin1");
    for (const forbidden of expect.forbiddenText) {
      if (content.includes(forbidden)) problems.push(`${file} mentions ${forbidden}`);
    }
  }
  return problems;
}

/** Files named by main, module, types, typings, bin and every exports target. */
export function manifestTargets(manifest: Record<string, any>): string[] {
  const out = new Set<string>();
  for (const field of ["main", "module", "types", "typings"]) {
    if (typeof manifest[field] === "string") out.add(manifest[field]);
  }
  if (typeof manifest.bin === "string") out.add(manifest.bin);
  else for (const bin of Object.values(manifest.bin ?? {})) out.add(bin as string);
  const visit = (node: unknown) => {
    if (typeof node === "string") {
      if (!node.includes("*")) out.add(node);
    } else if (node && typeof node === "object") {
      for (const value of Object.values(node)) visit(value);
    }
  };
  visit(manifest.exports);
  return [...out];
}
