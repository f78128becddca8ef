// The driver seen from outside a process: permission errors for a process
// without CAP_NET_ADMIN, and a process that exits on its own once its device
// is closed. Each case runs test/fixtures/open-tap.ts in a child process.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { addonPath } from "../src/addon.js";
import { ip, tapSkipReason, uniqueName, warnIfSkipped } from "./support/segment.js";

// The fixture is bundled into a world-readable directory with a copy of the
// addon, so that a child running as `nobody` can load it wherever the
// repository lives (a CI clone may sit in a directory only root can enter).
let bundleDir = "";
let fixture = "";
beforeAll(async () => {
  if (tapSkipReason !== undefined) return;
  bundleDir = mkdtempSync(path.join(tmpdir(), "atoll-tap-fixture-"));
  mkdirSync(path.join(bundleDir, "build", "Release"), { recursive: true });
  mkdirSync(path.join(bundleDir, "bin"));
  copyFileSync(addonPath, path.join(bundleDir, "build", "Release", "atoll_tap.node"));
  fixture = path.join(bundleDir, "bin", "open-tap.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("./fixtures/open-tap.ts", import.meta.url))],
    outfile: fixture,
    bundle: true,
    platform: "node",
    format: "esm",
    conditions: ["@atoll/source"],
    logLevel: "error",
  });
  for (const p of [
    bundleDir,
    path.join(bundleDir, "build"),
    path.join(bundleDir, "build", "Release"),
    path.join(bundleDir, "bin"),
  ]) {
    chmodSync(p, 0o755);
  }
});
afterAll(() => {
  if (bundleDir !== "") rmSync(bundleDir, { recursive: true, force: true });
});
const hasSetpriv = spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;
const skip = tapSkipReason !== undefined;
warnIfSkipped("TAP process tests");
if (!skip && !hasSetpriv)
  console.warn("skipping TAP permission tests: setpriv (Debian package util-linux) is missing");

interface ChildResult {
  readonly ok: boolean;
  readonly code?: string;
  readonly errno?: string;
  readonly syscall?: string;
  readonly message?: string;
  readonly name?: string;
}

/** Runs the fixture, optionally under setpriv; returns its report and whether it exited in time. */
function runChild(
  options: object,
  { setpriv = [] as string[], timeoutMs = 60_000 } = {},
): { result: ChildResult | undefined; exited: boolean; stderr: string } {
  const node = [process.execPath, fixture, JSON.stringify(options)];
  const [command, ...args] = setpriv.length > 0 ? ["setpriv", ...setpriv, ...node] : node;
  const child = spawnSync(command!, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    cwd: bundleDir,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("{"));
  return {
    result: line === undefined ? undefined : (JSON.parse(line) as ChildResult),
    exited: child.error === undefined && child.signal === null,
    stderr: child.stderr,
  };
}

describe.skipIf(skip || !hasSetpriv)("without CAP_NET_ADMIN", () => {
  const persistent: string[] = [];
  afterEach(() => {
    for (const name of persistent.splice(0))
      spawnSync("ip", ["tuntap", "del", "dev", name, "mode", "tap"]);
  });

  it("an unprivileged user gets a permission error that names CAP_NET_ADMIN", () => {
    const { result, stderr } = runChild(
      { name: uniqueName("p") },
      { setpriv: ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] },
    );
    expect(result, stderr).toBeDefined();
    expect(result!.ok).toBe(false);
    expect(result!.code).toBe("ATOLL_TAP_PERMISSION");
    expect(["EACCES", "EPERM"]).toContain(result!.errno);
    expect(["open", "TUNSETIFF"]).toContain(result!.syscall);
    expect(result!.message).toContain("CAP_NET_ADMIN");
  });

  it("root without CAP_NET_ADMIN cannot create a device", () => {
    const { result, stderr } = runChild(
      { name: uniqueName("p") },
      { setpriv: ["--bounding-set=-net_admin", "--inh-caps=-net_admin"] },
    );
    expect(result, stderr).toBeDefined();
    expect(result).toMatchObject({
      ok: false,
      code: "ATOLL_TAP_PERMISSION",
      errno: "EPERM",
      syscall: "TUNSETIFF",
    });
    expect(result!.message).toContain("CAP_NET_ADMIN");
  });

  it("attaches to a persistent device it owns, but cannot bring it up", () => {
    const name = uniqueName("o");
    ip("tuntap", "add", "dev", name, "mode", "tap", "user", "0");
    persistent.push(name);
    const { result, stderr } = runChild(
      { name },
      { setpriv: ["--bounding-set=-net_admin", "--inh-caps=-net_admin"] },
    );
    expect(result, stderr).toMatchObject({
      ok: false,
      code: "ATOLL_TAP_PERMISSION",
      syscall: "SIOCSIFFLAGS",
    });
    expect(result!.message).toContain(`ip link set ${name}`);
  });

  it("opens a persistent device it owns that is already configured", () => {
    const name = uniqueName("o");
    ip("tuntap", "add", "dev", name, "mode", "tap", "user", "0");
    persistent.push(name);
    ip("link", "set", name, "mtu", "1400", "up");
    const { result, stderr } = runChild(
      { name, mtu: 1400 },
      { setpriv: ["--bounding-set=-net_admin", "--inh-caps=-net_admin"] },
    );
    expect(result, stderr).toMatchObject({ ok: true, name, mtu: 1400 });
  });
});

describe.skipIf(skip)("process lifetime", () => {
  it("a process exits by itself once its device is closed", () => {
    const { result, exited, stderr } = runChild({ name: uniqueName("x") });
    expect(result, stderr).toMatchObject({ ok: true });
    expect(exited).toBe(true);
  });

  it("an open device keeps its process alive", async () => {
    // Wait for the child to report its device open, however slow the machine, then see it stay.
    const child = spawn(
      process.execPath,
      [fixture, JSON.stringify({ name: uniqueName("k") }), "keep-open"],
      {
        cwd: bundleDir,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    const exitedEarly = new Promise<boolean>((resolve) => child.once("exit", () => resolve(true)));
    const reported = new Promise<string>((resolve) =>
      child.stdout.on("data", (c: Buffer) => {
        stdout += c;
        if (stdout.includes("\n")) resolve(stdout);
      }),
    );
    try {
      const line = await Promise.race([reported, exitedEarly.then(() => stdout)]);
      expect(JSON.parse(line.split("\n")[0]!), stderr).toMatchObject({ ok: true });
      const stillRunning = await Promise.race([
        exitedEarly.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 1500)),
      ]);
      expect(stillRunning).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  }, 90_000);
});
