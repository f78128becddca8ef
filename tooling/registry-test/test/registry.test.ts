// The third-party test. Atoll is for people who install @atoll/* from a
// registry and publish drivers of their own; this test is one of them:
//
//  1. starts verdaccio on localhost (storage in a temporary directory) and
//     publishes every public package with the release flow, `pnpm release`,
//     exactly as a maintainer would (the registry comes from an .npmrc);
//  2. checks every published tarball: contents, manifest, attw, publint;
//  3. in an empty directory outside the workspace, writes a Netif driver (the
//     UDP tunnel in fixtures/), installs @atoll/* from the registry, runs
//     @atoll/netif/conformance against it with vitest, and publishes it;
//  4. in another empty directory, writes an application that installs that
//     driver and @atoll/*, type-checks it under node16 and bundler module
//     resolution (and proves a missing binding fails, naming the device),
//     runs its virtual-time test, and runs it as two processes sharing one
//     UDP-tunnel link;
//  5. checks that nothing installed points into the workspace.
//
// Every part is required: the TCP echo over the tunnel (the direct stack of
// @atoll/tcpip) and the sealed images (`atoll build` / `atoll run`, @atoll/cli)
// fail the test when the published packages lack them.

import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRegistry, startRegistry } from "../src/registry.js";
import { CommandError, cleanEnv, inParallel, progress, run } from "../src/run.js";
import { fetchTarball, type Tarball, tarballProblems } from "../src/tarball.js";
import {
  pinnedVersion,
  publicPackages,
  repoRoot,
  type WorkspacePackage,
} from "../src/workspace.js";

const fixtures = fileURLToPath(new URL("../fixtures", import.meta.url));
const attwBin = fileURLToPath(new URL("../node_modules/.bin/attw", import.meta.url));
const DRIVER = "atoll-netif-udp-tunnel";
const upstream = process.env.ATOLL_REGISTRY_UPSTREAM ?? "https://registry.npmjs.org/";
const keep = process.env.ATOLL_REGISTRY_TEST_KEEP === "1";

// The upstream registry serves typescript, vitest and the other third-party packages.
const offline = await fetch(new URL("typescript", upstream), {
  method: "HEAD",
  signal: AbortSignal.timeout(15_000),
})
  .then((r) => (r.ok ? undefined : `${upstream} answered ${r.status}`))
  .catch((e: unknown) => `${upstream} is unreachable (${String(e)})`);
// On a laptop without the network the test skips; in CI (which installed its
// dependencies from that registry) an unreachable registry is a failure.
const inCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";
if (offline && !inCi)
  console.warn(`registry test skipped: ${offline}; it installs third-party packages from there`);

let work: string;
let registry: LocalRegistry;
let packages: WorkspacePackage[];
let versions: Map<string, string>;
const tarballs = new Map<string, Tarball>();
const timings: [string, number][] = [];
let driverDir: string;
let compiled: { resolution: string; code: number | null; diagnostics: string[] }[] = [];
let tarballChecks: Promise<string[]> = Promise.resolve(["the tarballs were not checked"]);
let appDir: string;

/** Runs a phase, printing its start and recording its duration. */
async function phase<T>(name: string, body: () => Promise<T>): Promise<T> {
  progress(`${name}...`);
  const started = performance.now();
  const result = await body();
  const seconds = (performance.now() - started) / 1000;
  timings.push([name, seconds]);
  progress(`${name}: done in ${seconds.toFixed(1)}s`);
  return result;
}

const publisherEnv = () => cleanEnv({ npm_config_userconfig: registry.userconfig });
const consumerEnv = () => cleanEnv({ npm_config_userconfig: registry.consumerUserconfig });
const npm = (cwd: string, args: string[], env = consumerEnv()) =>
  run("npm", args, { cwd, env, timeoutMs: 1_200_000 });
const npx = (cwd: string, args: string[]) =>
  run("npx", ["--no-install", ...args], { cwd, env: consumerEnv(), timeoutMs: 1_200_000 });

/**
 * Runs two Node programs of the application at once as the two ends of one
 * UDP-tunnel link: each `end` gets its `--bind`/`--peer` arguments and returns
 * its whole command line.
 */
async function overOneLink(
  name: string,
  timeoutMs: number,
  endA: (link: string[]) => string[],
  endB: (link: string[]) => string[],
) {
  const [portA, portB] = await freeUdpPorts(2);
  const node = (args: string[]) =>
    run(process.execPath, args, { cwd: appDir, env: consumerEnv(), timeoutMs });
  return phase(name, () =>
    Promise.all([
      node(endA([`--bind=127.0.0.1:${portA}`, `--peer=127.0.0.1:${portB}`])),
      node(endB([`--bind=127.0.0.1:${portB}`, `--peer=127.0.0.1:${portA}`])),
    ]),
  );
}

describe.skipIf(offline !== undefined && !inCi)(
  "Atoll from a registry, as a third party uses it",
  () => {
    beforeAll(async () => {
      if (offline !== undefined) throw new Error(`registry test under CI: ${offline}`);
      work = mkdtempSync(path.join(tmpdir(), "atoll-registry-test-"));
      packages = publicPackages();
      versions = new Map(packages.map((p) => [p.name, p.version]));
      registry = await phase("start verdaccio", () =>
        startRegistry({ dir: path.join(work, "registry"), upstream, local: ["@atoll/*", DRIVER] }),
      );
    });

    afterAll(async () => {
      await registry?.stop();
      progress(`timings: ${timings.map(([n, s]) => `${n} ${s.toFixed(1)}s`).join(", ")}`);
      if (work && !keep) rmSync(work, { recursive: true, force: true });
      else if (work) progress(`kept ${work}`);
    });

    it("publishes every public package with `pnpm release`, to the registry an .npmrc names", async () => {
      // The build is turbo's (cached after `pnpm build`); changesets tags no git commit here.
      const release = await phase("pnpm release", () =>
        run("pnpm", ["release", "--no-git-tag"], {
          cwd: repoRoot,
          env: publisherEnv(),
          timeoutMs: 900_000,
        }),
      );
      expect(release.stdout).toContain(`publishing to ${registry.url}`);
      await phase("download the tarballs", () =>
        inParallel(
          4,
          packages.map((p) => async () => {
            tarballs.set(
              p.name,
              await fetchTarball(registry.url, p.name, p.version, path.join(work, "tarballs")),
            );
          }),
        ),
      );
      expect([...tarballs.keys()].sort()).toEqual(packages.map((p) => p.name).sort());
    });

    it("publishes dist, types, README, LICENSE and CHANGELOG only, with registry ranges for workspace dependencies", () => {
      const problems = packages.flatMap((p) =>
        tarballProblems(tarballs.get(p.name)!, {
          source: p.json,
          hasChangelog: existsSync(path.join(p.dir, "CHANGELOG.md")),
          versions,
          forbiddenText: [repoRoot.replace(/\/$/, "")],
        }).map((problem) => `${p.name}: ${problem}`),
      );
      expect(problems).toEqual([]);
      // The condition the workspace resolves sources with is gone, and ranges are real.
      const netif = tarballs.get("@atoll/netif")?.manifest;
      if (netif) {
        expect(netif.dependencies["@atoll/core"]).toBe(`^${versions.get("@atoll/core")}`);
        expect(JSON.stringify(netif.exports)).not.toContain("@atoll/source");
      }
      // attw and publint take a while and need no network: they run while the next tests install.
      tarballChecks = phase("attw and publint (in the background)", checkTarballs);
      tarballChecks.catch(() => {});
    });

    it("installs @atoll/* into an empty project, and a UDP-tunnel Netif driver written there passes @atoll/netif/conformance", async () => {
      driverDir = path.join(work, DRIVER);
      mkdirSync(driverDir);
      await npm(driverDir, ["init", "-y"]);
      mergePackageJson(driverDir, path.join(fixtures, DRIVER, "package.json"));
      await phase("npm install (driver)", async () => {
        // As docs/writing-a-driver.md says: signature packages as peers, tools as dev dependencies.
        await npm(driverDir, [
          "install",
          "--save-peer",
          "@atoll/core",
          "@atoll/entropy",
          "@atoll/netif",
        ]);
        await npm(driverDir, ["install", "--save-dev", ...tools()]);
      });
      const manifest = readJson(path.join(driverDir, "package.json"));
      expect(Object.keys(manifest.peerDependencies).sort()).toEqual([
        "@atoll/core",
        "@atoll/entropy",
        "@atoll/netif",
      ]);
      for (const [name, range] of Object.entries(manifest.peerDependencies))
        expect(range).toBe(`^${versions.get(name)}`);

      copyFixture(DRIVER, driverDir);
      await phase("tsc (driver, node16)", () => npx(driverDir, ["tsc", "-p", "tsconfig.json"]));
      const report = path.join(driverDir, "vitest-report.json");
      await phase("vitest: Netif conformance of the driver", () =>
        npx(driverDir, ["vitest", "run", "--reporter=json", `--outputFile=${report}`]),
      );
      const results = readJson(report);
      const titles: string[] = results.testResults.flatMap((f: any) =>
        f.assertionResults.map((t: any) => t.fullName),
      );
      progress(`driver tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed`);
      expect(results.numFailedTests).toBe(0);
      expect(results.numPendingTests).toBe(0);
      // Both harnesses ran the whole suite (it has a dozen cases).
      for (const harness of ["udp tunnel over loopback", "udp tunnel driver"]) {
        expect(
          titles.filter((t) => t.startsWith(`Netif conformance: ${harness}`)).length,
        ).toBeGreaterThanOrEqual(12);
      }
    });

    it("publishes the driver: its tarball is clean (publint, attw) and states the signature versions it implements", async () => {
      await phase("npm publish (driver)", () => npm(driverDir, ["publish"], publisherEnv()));
      const tarball = await fetchTarball(
        registry.url,
        DRIVER,
        "1.0.0",
        path.join(work, "tarballs"),
      );
      expect(tarball.files).toEqual(
        expect.arrayContaining([
          "LICENSE",
          "README.md",
          "dist/index.d.ts",
          "dist/index.js",
          "package.json",
        ]),
      );
      expect(
        tarball.files.filter(
          (f) => !/^(dist\/.*\.(js|d\.ts)|LICENSE|README\.md|package\.json)$/.test(f),
        ),
      ).toEqual([]);
      expect(tarball.manifest.keywords).toContain("atoll-driver");
      expect(Object.keys(tarball.manifest.peerDependencies)).toContain("@atoll/netif");
      const lint = await publint({
        pkgDir: tarball.dir,
        pack: false,
        level: "suggestion",
        strict: true,
      });
      expect(lint.messages.map((m) => formatMessage(m, tarball.manifest))).toEqual([]);
      const attw = await run(
        attwBin,
        [tarball.file, "--profile", "esm-only", "--no-emoji", "--no-color"],
        {
          cwd: work,
          env: cleanEnv(),
          allowFailure: true,
        },
      );
      expect(attw.code, attw.stdout).toBe(0);
    });

    it("passes attw (node16 and bundler resolution) and publint, every tarball", async () => {
      expect(await tarballChecks).toEqual([]);
    });

    it("composes an application with the published driver; it type-checks under node16 and bundler resolution", async () => {
      appDir = path.join(work, "link-ping");
      mkdirSync(appDir);
      await npm(appDir, ["init", "-y"]);
      mergePackageJson(appDir, path.join(fixtures, "app", "package.json"));
      await phase("npm install (application)", async () => {
        await npm(appDir, ["install", DRIVER, ...packages.map((p) => p.name)]);
        await npm(appDir, ["install", "--save-dev", ...tools()]);
      });
      copyFixture("app", appDir);
      // The TCP echo (the published direct stack) and the sealed images (the published CLI).
      expect(
        await exportsFunction(appDir, "@atoll/tcpip", "direct"),
        "the published @atoll/tcpip exports direct()",
      ).toBe(true);
      expect(
        existsSync(path.join(appDir, "node_modules", ".bin", "atoll")),
        "the published @atoll/cli installs the atoll command",
      ).toBe(true);
      for (const fixture of ["app-tcp", "app-cli", "app-tcp-cli"]) copyFixture(fixture, appDir);
      // Every entry point of every installed @atoll package, imported under both resolutions.
      writeEntriesProbe(appDir);
      // One program per resolution holds the application, the probe and the deliberately
      // broken files (checked by the next test), with skipLibCheck off: the published
      // declarations are checked too. A third compile emits the application for node.
      const checks = ["node16", "bundler"].map(async (resolution) => {
        const config = `tsconfig.check-${resolution}.json`;
        writeFileSync(
          path.join(appDir, config),
          JSON.stringify({
            extends: `./tsconfig.${resolution}.json`,
            compilerOptions: { noEmit: true, rootDir: "." },
            include: ["src", "broken", "entries"],
          }),
        );
        const result = await npx(appDir, ["tsc", "-p", config, "--pretty", "false"]).catch((e) => {
          if (!(e instanceof CommandError)) throw e;
          return e.result;
        });
        return {
          resolution,
          code: result.code,
          diagnostics: `${result.stdout}${result.stderr}`.split(/\n(?=\S)/),
        };
      });
      compiled = await phase("tsc (application, node16 and bundler)", () =>
        Promise.all([
          ...checks,
          npx(appDir, ["tsc", "-p", "tsconfig.node16.json"]).then(() => undefined),
        ]),
      ).then((results) => results.filter((r) => r !== undefined));
      for (const { resolution, diagnostics } of compiled) {
        expect(
          diagnostics.filter((d) => !d.startsWith("broken/") && d.trim() !== ""),
          resolution,
        ).toEqual([]);
      }
      expect(existsSync(path.join(appDir, "dist", "main.js"))).toBe(true);
    });

    it("refuses to compile a missing binding or a wrong driver, naming the device, under both resolutions", () => {
      expect(compiled.map((c) => c.resolution)).toEqual(["node16", "bundler"]);
      for (const { resolution, code, diagnostics } of compiled) {
        expect(code, resolution).not.toBe(0);
        const errors = (file: string) =>
          diagnostics.filter((d) => d.startsWith(`broken/${file}(`)).join("\n");
        expect(errors("missing-netif.ts"), resolution).toMatch(/Property 'netif' is missing/);
        expect(errors("missing-random.ts"), resolution).toMatch(/Property 'random' is missing/);
        expect(errors("wrong-driver.ts"), resolution).toMatch(/Binding<"netif"/);
        expect(errors("tcp-missing-netif.ts"), resolution).toMatch(/Property 'netif' is missing/);
      }
    });

    it("runs the application's virtual-time test with the installed vitest", async () => {
      const report = path.join(appDir, "vitest-report.json");
      await phase("vitest (application, virtual time)", () =>
        npx(appDir, ["vitest", "run", "--reporter=json", `--outputFile=${report}`]),
      );
      const results = readJson(report);
      expect(results.numFailedTests).toBe(0);
      expect(results.numPassedTests).toBeGreaterThanOrEqual(3);
    });

    it("runs two processes that share one UDP-tunnel link and exchange frames", async () => {
      const [pong, ping] = await overOneLink(
        "two link-ping processes",
        120_000,
        (link) => ["dist/main.js", "--role=pong", "--count=3", ...link, "--mac=02:00:00:00:00:0a"],
        (link) => ["dist/main.js", "--role=ping", "--count=3", ...link, "--mac=02:00:00:00:00:0b"],
      );
      expect(ping.stdout).toMatch(/reply from 02:00:00:00:00:0a: seq=\d+ time=[\d.]+ ms/);
      expect(ping.stdout).toContain("ping: 3/3 exchanges");
      expect(pong.stdout).toMatch(/answered seq=\d+ from 02:00:00:00:00:0b/);
      expect(pong.stdout).toContain("pong: 3/3 exchanges");
    });

    it("runs a TCP echo between two processes on one UDP-tunnel link, over the published direct stack", async () => {
      const [server, client] = await overOneLink(
        "two tcp-echo processes",
        120_000,
        (link) => ["dist/main-tcp.js", "--role=server", "--ipv4=10.0.0.1/24", ...link],
        (link) => [
          "dist/main-tcp.js",
          "--role=client",
          "--ipv4=10.0.0.2/24",
          "--server=10.0.0.1",
          "--bytes=1MiB",
          ...link,
        ],
      );
      const total = 1024 * 1024 + "hello from 10.0.0.2\n".length;
      expect(client.stdout).toContain(`client: ${total} bytes echoed intact by 10.0.0.1:7007`);
      expect(server.stdout).toContain(`server: echoed ${total} bytes`);
    });

    it("seals the application with `atoll build` and runs it with `atoll run`; the sealed image talks to a Node process over the tunnel", async () => {
      const atoll = (args: string[]) =>
        run("npx", ["--no-install", "atoll", ...args], {
          cwd: appDir,
          env: consumerEnv(),
          timeoutMs: 120_000,
          allowFailure: true,
        });
      const built = await phase("atoll build", () =>
        atoll(["build", "src/unikernel.ts", "--out", "link-ping.atoll"]),
      );
      expect(built.code, built.stderr).toBe(0);
      const manifest = JSON.parse((await atoll(["inspect", "link-ping.atoll", "--json"])).stdout);
      expect(manifest.name).toBe("link-ping");
      expect(manifest.slots).toEqual({
        console: "atoll.console/1",
        netif: "atoll.netif/1",
        clock: "atoll.clock.monotonic/1",
        time: "atoll.time/1",
      });

      // The tender refuses to start an image whose netif slot is not attached, and names it.
      const unattached = await atoll(["run", "link-ping.atoll", "--", "--role=pong"]);
      expect(unattached.code).toBe(2);
      expect(unattached.stderr).toMatch(/netif/);
      // Attached to an in-process switch with nobody else on it: it runs, sealed, and times out.
      const alone = await phase("atoll run", () =>
        atoll([
          "run",
          "link-ping.atoll",
          "--net:netif=switch:lan",
          "--",
          "--role=pong",
          "--count=1",
          "--timeout=300ms",
        ]),
      );
      expect(alone.stdout).toContain("pong on ");
      expect(`${alone.stdout}${alone.stderr}`).toContain(
        "pong: 0 of 1 exchanges before the timeout",
      );
      expect(alone.code).toBe(1);

      // The sealed image pings a Node process across the UDP tunnel.
      const [pong, sealed] = await overOneLink(
        "sealed image and Node process",
        60_000,
        (link) => ["dist/main.js", "--role=pong", "--count=3", ...link, "--mac=02:00:00:00:00:0a"],
        (link) => [
          "dist/sealed.js",
          "link-ping.atoll",
          ...link,
          "--mac=02:00:00:00:00:0b",
          "--",
          "--role=ping",
          "--count=3",
        ],
      );
      expect(sealed.stdout).toMatch(/reply from 02:00:00:00:00:0a: seq=\d+/);
      expect(sealed.stdout).toContain("ping: 3/3 exchanges");
      expect(pong.stdout).toContain("pong: 3/3 exchanges");
    });

    it("seals the TCP echo client with the direct stack inside; it echoes through a Node server over the tunnel", async () => {
      await phase("atoll build (tcp-echo)", () =>
        npx(appDir, ["atoll", "build", "src/tcp-echo-image.ts", "--out", "tcp-echo.atoll"]),
      );
      const manifest = JSON.parse(
        (await npx(appDir, ["atoll", "inspect", "tcp-echo.atoll", "--json"])).stdout,
      );
      expect(Object.keys(manifest.slots).sort()).toEqual([
        "clock",
        "console",
        "netif",
        "random",
        "time",
      ]);
      const [server, sealed] = await overOneLink(
        "sealed tcp-echo client and Node server",
        120_000,
        (link) => ["dist/main-tcp.js", "--role=server", "--ipv4=10.0.0.1/24", ...link],
        (link) => [
          "dist/sealed.js",
          "tcp-echo.atoll",
          ...link,
          "--",
          "--role=client",
          "--ipv4=10.0.0.2/24",
          "--server=10.0.0.1",
          "--bytes=256KiB",
        ],
      );
      const total = 256 * 1024 + "hello from 10.0.0.2\n".length;
      expect(sealed.stdout).toContain(`client: ${total} bytes echoed intact by 10.0.0.1:7007`);
      expect(server.stdout).toContain(`server: echoed ${total} bytes`);
    });

    it("installed everything from registry tarballs: nothing points into the workspace", () => {
      for (const dir of [driverDir, appDir]) {
        const lock = readJson(path.join(dir, "package-lock.json"));
        const problems: string[] = [];
        for (const [where, entry] of Object.entries<any>(lock.packages)) {
          if (where === "") continue;
          if (entry.link) problems.push(`${where} is a link to ${entry.resolved}`);
          const name = where.replace(/^.*node_modules\//, "");
          if (
            (name.startsWith("@atoll/") || name === DRIVER) &&
            !String(entry.resolved).startsWith(registry.url)
          )
            problems.push(`${where} resolved from ${entry.resolved}, not the local registry`);
          if (typeof entry.resolved === "string" && !/^https?:/.test(entry.resolved))
            problems.push(`${where} resolved from ${entry.resolved}`);
        }
        problems.push(...workspaceReferences(path.join(dir, "node_modules"), dir));
        expect(problems, dir).toEqual([]);
      }
    });
  },
);

/** attw (esm-only profile: node16 from ESM and bundler resolution) and publint, for every tarball. */
async function checkTarballs(): Promise<string[]> {
  const reports = await inParallel(
    2,
    packages.map((p) => async () => {
      const tarball = tarballs.get(p.name)!;
      const attw = await run(
        attwBin,
        [tarball.file, "--profile", "esm-only", "--format", "ascii", "--no-emoji", "--no-color"],
        { cwd: work, env: cleanEnv(), allowFailure: true },
      );
      const lint = await publint({
        pkgDir: tarball.dir,
        pack: false,
        level: "suggestion",
        strict: true,
      });
      return [
        ...(attw.code === 0 ? [] : [`${p.name}: attw\n${attw.stdout}${attw.stderr}`]),
        ...lint.messages.map(
          (m) => `${p.name}: publint ${m.type}: ${formatMessage(m, tarball.manifest) ?? m.code}`,
        ),
      ];
    }),
  );
  return reports.flat();
}

/** Whether the package installed in `dir` exports a function named `name`. */
async function exportsFunction(dir: string, specifier: string, name: string): Promise<boolean> {
  const probe = `const m = await import(${JSON.stringify(specifier)}); process.stdout.write(typeof m[${JSON.stringify(name)}]);`;
  const result = await run(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: dir,
    env: consumerEnv(),
  });
  return result.stdout === "function";
}

/** typescript, vitest and @types/node at the versions the workspace pins. */
function tools(): string[] {
  return ["typescript", "vitest", "@types/node"].map((name) => `${name}@${pinnedVersion(name)}`);
}

function readJson(file: string): any {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** Lays the fixture's package.json over what `npm init -y` wrote (keeping dependencies npm adds later). */
function mergePackageJson(dir: string, fixture: string): void {
  const file = path.join(dir, "package.json");
  const merged = { ...readJson(file), ...readJson(fixture) };
  delete merged.main; // `exports` (or nothing, for an application) replaces npm init's main
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
}

/** Copies a fixture's files, except its package.json, into `dir`. */
function copyFixture(name: string, dir: string): void {
  const from = path.join(fixtures, name);
  for (const entry of readdirSync(from)) {
    if (entry === "package.json") continue;
    cpSync(path.join(from, entry), path.join(dir, entry), { recursive: true });
  }
}

/** entries/all.ts imports every exported subpath of every installed @atoll package. */
function writeEntriesProbe(dir: string): void {
  const entries = path.join(dir, "entries");
  mkdirSync(entries, { recursive: true });
  const specifiers = readdirSync(path.join(dir, "node_modules", "@atoll")).flatMap((name) => {
    const manifest = readJson(path.join(dir, "node_modules", "@atoll", name, "package.json"));
    return Object.keys(manifest.exports ?? { ".": "" })
      .filter((sub) => sub !== "./package.json")
      .map((sub) => `@atoll/${name}${sub === "." ? "" : sub.slice(1)}`);
  });
  writeFileSync(
    path.join(entries, "all.ts"),
    `${specifiers.map((s, i) => `import * as m${i} from "${s}";`).join("\n")}\nexport const modules = [${specifiers.map((_, i) => `m${i}`).join(", ")}];\n`,
  );
}

/** Symlinks leaving the project, or any file under node_modules that names the workspace. */
function workspaceReferences(nodeModules: string, project: string): string[] {
  const problems: string[] = [];
  const root = realpathSync(repoRoot).replace(/\/$/, "");
  const inside = (target: string) => target === project || target.startsWith(`${project}/`);
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) {
        const target = realpathSync(full);
        if (!inside(target)) problems.push(`${full} → ${readlinkSync(full)} leaves the project`);
      } else if (stat.isDirectory()) {
        visit(full);
      } else if (entry === "package.json") {
        const text = readFileSync(full, "utf8");
        if (text.includes("workspace:")) problems.push(`${full} has a workspace: range`);
        if (text.includes(root)) problems.push(`${full} names ${root}`);
      }
    }
  };
  visit(nodeModules);
  return problems;
}

async function freeUdpPorts(count: number): Promise<number[]> {
  const { createSocket } = await import("node:dgram");
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = createSocket("udp4");
      await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
      return socket;
    }),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
