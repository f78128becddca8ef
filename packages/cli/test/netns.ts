// Minimal network-namespace helpers for the TAP tests and benchmark: a fresh
// namespace holds the Linux side of the link, so nothing touches the host's
// own network. Commands run asynchronously (the tender under test shares this
// process's event loop). tooling/interop has the full set; these converge
// with it once it is on main.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";

const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let counter = 0;
/** A name unique to this process, at most 15 bytes (an interface name). */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}`.slice(0, 15);
}

const has = (tool: string) =>
  spawnSync("sh", ["-c", `command -v "$0"`, tool], { env: { ...process.env, PATH } }).status === 0;

/** Why TAP tests cannot run here (with the Debian package to install), or undefined. */
export async function tapUnavailable(tools: readonly string[] = []): Promise<string | undefined> {
  if (process.platform !== "linux") return "TAP devices need Linux";
  if (process.getuid?.() !== 0) return "TAP tests need root (CAP_NET_ADMIN and network namespaces)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing";
  }
  const { tapUnavailableReason } = await import("@atoll/netif-tap");
  const reason = tapUnavailableReason();
  if (reason !== undefined) return reason;
  const packages: Record<string, string> = {
    ip: "iproute2",
    ping: "iputils-ping",
    nc: "netcat-openbsd",
    setpriv: "util-linux",
  };
  for (const tool of ["ip", ...tools])
    if (!has(tool)) return `${tool} is missing (Debian package ${packages[tool] ?? tool})`;
  return undefined;
}

export function run(
  argv: readonly string[],
  options: { input?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, PATH } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input);
  });
}

/** A fresh network namespace, deleted (with what runs in it) by close(). */
export class Netns {
  readonly #children = new Set<ChildProcess>();
  private constructor(readonly name: string) {}

  static async create(): Promise<Netns> {
    const name = `atoll-cli-${process.pid}-${counter++}`;
    const made = await run(["ip", "netns", "add", name]);
    if (made.code !== 0) throw new Error(`ip netns add ${name}: ${made.stderr}`);
    const ns = new Netns(name);
    await ns.ip("link", "set", "lo", "up");
    return ns;
  }

  async ip(...args: string[]): Promise<void> {
    const r = await run(["ip", "-n", this.name, ...args]);
    if (r.code !== 0) throw new Error(`ip -n ${this.name} ${args.join(" ")}: ${r.stderr}`);
  }

  exec(argv: readonly string[], options?: { input?: string | Uint8Array; timeoutMs?: number }) {
    return run(["ip", "netns", "exec", this.name, ...argv], options);
  }

  /** Starts a long-running command in the namespace; close() ends it. */
  spawn(argv: readonly string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.name, ...argv], {
      env: { ...process.env, PATH },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  /** Moves a host interface (the TAP device a tender opened) in here, addresses it and sets it up. */
  async adopt(ifname: string, cidr: string): Promise<void> {
    const moved = await run(["ip", "link", "set", ifname, "netns", this.name]);
    if (moved.code !== 0)
      throw new Error(`ip link set ${ifname} netns ${this.name}: ${moved.stderr}`);
    await this.ip("addr", "add", cidr, "dev", ifname);
    await this.ip("link", "set", ifname, "up");
  }

  async close(): Promise<void> {
    for (const child of this.#children) child.kill("SIGKILL");
    await run(["ip", "netns", "del", this.name]);
  }
}

export interface Transfer {
  readonly bytes: number;
  readonly sentSha256: string;
  readonly receivedSha256: string;
  readonly receivedBytes: number;
  readonly ms: number;
  readonly status: number | null;
}

/**
 * Sends `total` random bytes to an echo server with Linux's TCP (OpenBSD nc in
 * the namespace, half-closing after its input) and hashes both directions.
 */
export async function echoTransfer(
  ns: Netns,
  address: string,
  port: number,
  total: number,
): Promise<Transfer> {
  const started = performance.now();
  const child = ns.spawn(["nc", "-N", address, String(port)]);
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let receivedBytes = 0;
  child.stdout!.on("data", (d: Buffer) => {
    received.update(d);
    receivedBytes += d.length;
  });
  child.stderr!.resume();
  const closed = once(child, "close") as Promise<[number | null]>;
  const chunk = 1 << 20;
  for (let at = 0; at < total; at += chunk) {
    const data = randomBytes(Math.min(chunk, total - at));
    sent.update(data);
    if (!child.stdin!.write(data)) await Promise.race([once(child.stdin!, "drain"), closed]);
    if (child.exitCode !== null) break;
  }
  child.stdin!.end();
  const [status] = await closed;
  return {
    bytes: total,
    sentSha256: sent.digest("hex"),
    receivedSha256: received.digest("hex"),
    receivedBytes,
    ms: performance.now() - started,
    status,
  };
}
