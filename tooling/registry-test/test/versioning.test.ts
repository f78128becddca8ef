// `pnpm version-packages` (changeset version) on a copy of the workspace's
// manifests, changesets and changelogs: each package gets its own version and
// CHANGELOG, and bumping a signature package bumps what depends on it
// (updateInternalDependencies: patch), while `workspace:` ranges stay as they
// are for pnpm publish to turn into real ones. The workspace is not touched.

import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanEnv, run } from "../src/run.js";
import { repoRoot, type WorkspacePackage, workspacePackages } from "../src/workspace.js";

type Bump = "major" | "minor" | "patch";

const staged: string[] = [];
afterEach(() => {
  for (const dir of staged.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A directory with the root manifest, pnpm-workspace.yaml, .changeset/ and every package's package.json and CHANGELOG.md. */
function stage(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "atoll-versioning-"));
  staged.push(dir);
  for (const file of ["package.json", "pnpm-workspace.yaml"])
    cpSync(path.join(repoRoot, file), path.join(dir, file));
  cpSync(path.join(repoRoot, ".changeset"), path.join(dir, ".changeset"), { recursive: true });
  for (const pkg of workspacePackages()) {
    const to = path.join(dir, path.relative(repoRoot, pkg.dir));
    mkdirSync(to, { recursive: true });
    for (const file of ["package.json", "CHANGELOG.md"]) {
      if (existsSync(path.join(pkg.dir, file)))
        cpSync(path.join(pkg.dir, file), path.join(to, file));
    }
  }
  // The changesets CLI and its changelog generator, from the workspace's install.
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

function pendingChangesets(dir: string): string[] {
  return readdirSync(path.join(dir, ".changeset")).filter(
    (f) => f.endsWith(".md") && f !== "README.md",
  );
}

/** The bumps a changeset file asks for, from its front matter. */
function parseChangeset(text: string): { bumps: Map<string, Bump>; summary: string } {
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`not a changeset:\n${text}`);
  const bumps = new Map<string, Bump>();
  for (const line of match[1]!.split("\n")) {
    const entry = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/.exec(line);
    if (entry) bumps.set(entry[1]!, entry[2] as Bump);
  }
  return { bumps, summary: match[2]!.trim() };
}

function increment(version: string, bump: Bump): string {
  const [major, minor, patch] = version.split(".").map(Number) as [number, number, number];
  if (bump === "major") return `${major + 1}.0.0`;
  if (bump === "minor") return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

const order: Bump[] = ["patch", "minor", "major"];
const larger = (a: Bump | undefined, b: Bump): Bump =>
  a === undefined || order.indexOf(b) > order.indexOf(a) ? b : a;

function readPackages(dir: string): Map<string, { version: string; json: any; changelog: string }> {
  const out = new Map<string, { version: string; json: any; changelog: string }>();
  for (const pkg of workspacePackages(dir)) {
    const changelog = path.join(pkg.dir, "CHANGELOG.md");
    out.set(pkg.name, {
      version: pkg.version,
      json: pkg.json,
      changelog: existsSync(changelog) ? readFileSync(changelog, "utf8") : "",
    });
  }
  return out;
}

/** Whether `version` satisfies `^base` (what `workspace:^` means: caret on the current version). */
function inCaretRange(base: string, version: string): boolean {
  const [a, b, c] = base.split(".").map(Number) as [number, number, number];
  const [x, y, z] = version.split(".").map(Number) as [number, number, number];
  if (a > 0) return x === a && (y > b || (y === b && z >= c));
  if (b > 0) return x === 0 && y === b && z >= c;
  return x === 0 && y === 0 && z === c;
}

/**
 * changesets' rule for dependents: a package is released (patch) when a
 * workspace dependency's next version leaves the range it declares, and that
 * may cascade. With `workspace:^` the declared range is `^<current version>`.
 */
function expectedDependentReleases(
  released: ReadonlyMap<string, string>,
  packages: readonly WorkspacePackage[],
): Set<string> {
  const next = new Map(released);
  const versions = new Map(packages.map((p) => [p.name, p.version]));
  const out = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const pkg of packages) {
      if (next.has(pkg.name)) continue;
      const ranges = {
        ...pkg.json.dependencies,
        ...pkg.json.optionalDependencies,
        ...pkg.json.peerDependencies,
      };
      const leaves = Object.entries<string>(ranges).some(([dep, range]) => {
        const to = next.get(dep);
        if (to === undefined || !range.startsWith("workspace:")) return false;
        const base = versions.get(dep)!;
        const declared = range.slice("workspace:".length);
        if (declared === "*") return to !== base;
        if (declared === "^") return !inCaretRange(base, to);
        if (declared === "~")
          return to.split(".").slice(0, 2).join(".") !== base.split(".").slice(0, 2).join(".");
        return true;
      });
      if (leaves) {
        next.set(pkg.name, increment(pkg.version, "patch"));
        out.add(pkg.name);
        grew = true;
      }
    }
  }
  return out;
}

const versionPackages = (cwd: string) =>
  run("pnpm", ["version-packages"], { cwd, env: cleanEnv(), timeoutMs: 120_000 });

describe("pnpm version-packages", () => {
  it("applies the pending changesets: every package gets its own version and CHANGELOG entry", async (context) => {
    const dir = stage();
    const files = pendingChangesets(dir);
    if (files.length === 0) {
      console.warn("no pending changesets in .changeset/: nothing to version");
      context.skip();
    }
    const wanted = new Map<string, Bump>();
    const summaries = new Map<string, string[]>();
    for (const file of files) {
      const { bumps, summary } = parseChangeset(
        readFileSync(path.join(dir, ".changeset", file), "utf8"),
      );
      for (const [name, bump] of bumps) {
        wanted.set(name, larger(wanted.get(name), bump));
        summaries.set(name, [...(summaries.get(name) ?? []), summary.split("\n")[0]!]);
      }
    }
    const before = readPackages(dir);
    await versionPackages(dir);
    const after = readPackages(dir);

    expect(pendingChangesets(dir)).toEqual([]);
    for (const [name, bump] of wanted) {
      const old = before.get(name)!;
      const now = after.get(name)!;
      expect(now.version, name).toBe(increment(old.version, bump));
      expect(now.changelog, name).toContain(`## ${now.version}`);
      for (const line of summaries.get(name)!) expect(now.changelog, name).toContain(line);
      // pnpm publish turns these into ranges; changesets leaves them for it.
      for (const [dep, range] of Object.entries<string>(now.json.dependencies ?? {})) {
        if (before.has(dep)) expect(range, `${name} → ${dep}`).toBe(old.json.dependencies[dep]);
      }
    }
  });

  // A minor bump of a 0.x package leaves `^0.1.0`, so its dependents are released too; a
  // patch bump stays inside it, so they are not (and keep accepting the new version).
  it.each<Bump>(["minor", "patch"])(
    "a %s bump of a signature package releases exactly the dependents whose range it leaves",
    async (bump) => {
      const signaturePackage = "@atoll/clock";
      const dir = stage();
      for (const file of pendingChangesets(dir)) rmSync(path.join(dir, ".changeset", file));
      writeFileSync(
        path.join(dir, ".changeset", "signature-change.md"),
        `---\n"${signaturePackage}": ${bump}\n---\n\nA change to a clock signature.\n`,
      );
      const before = readPackages(dir);
      const oldVersion = before.get(signaturePackage)!.version;
      const dependents = expectedDependentReleases(
        new Map([[signaturePackage, increment(oldVersion, bump)]]),
        workspacePackages(dir),
      );
      await versionPackages(dir);
      const after = readPackages(dir);

      const bumped = after.get(signaturePackage)!.version;
      expect(bumped).toBe(increment(before.get(signaturePackage)!.version, bump));
      expect(after.get(signaturePackage)!.changelog).toContain("A change to a clock signature.");
      for (const [name, { version, changelog }] of after) {
        if (name === signaturePackage) continue;
        const old = before.get(name)!.version;
        if (dependents.has(name)) {
          expect(version, name).toBe(increment(old, "patch"));
          expect(changelog, name).toContain(`## ${version}`);
          expect(changelog, name).toMatch(/Updated dependencies/);
        } else {
          expect(version, name).toBe(old);
        }
      }
      if (bump === "minor") {
        // At 0.x a minor bump leaves every direct dependent's range; their changelogs name it.
        expect(dependents).toContain("@atoll/entropy");
        expect(after.get("@atoll/entropy")?.changelog).toContain(`${signaturePackage}@${bumped}`);
      } else {
        // Inside the range: dependents stay, and their published `^` range accepts the fix.
        expect([...dependents]).toEqual([]);
      }
    },
  );
});
