// A fresh Linux network namespace: where the Linux side of a link lives
// during a test, so that nothing reaches (or comes from) the host's own
// network. Commands run inside it with `ip netns exec`, asynchronously — the
// unikernel under test shares this process's event loop, so a blocking call
// would stall the very stack the command talks to. close() ends every
// process started in it and deletes it (and the interfaces inside).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { threadId } from "node:worker_threads";
import { searchPath } from "./tools.js";

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string | Uint8Array;
  /** Killed (SIGKILL) after this long; default 60 s. */
  readonly timeoutMs?: number;
}

export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly result: CommandResult,
  ) {
    super(
      `${command.join(" ")} failed (${result.signal ?? `status ${result.code}`}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

const PREFIX = "atoll-io-";
let counter = 0;
let reaped = false;

/** Unique per process and worker thread: `<prefix><pid>-<n>`, or `<prefix><pid>t<thread>-<n>`. */
export function uniqueName(prefix: string, max = 15): string {
  const thread = threadId === 0 ? "" : `t${threadId}`;
  const name = `${prefix}${process.pid}${thread}-${counter++}`;
  if (name.length > max) throw new Error(`interface name ${name} is longer than ${max} bytes`);
  return name;
}

/** Deletes namespaces of this suite left behind by processes that died before cleaning up. */
function reapStaleNamespaces(): void {
  if (reaped) return;
  reaped = true;
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8", env: env() }).stdout ?? "";
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = new RegExp(`^${PREFIX}(\\d+)(t\\d+)?-\\d+$`).exec(name);
    if (match === null) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      spawnSync("ip", ["netns", "del", name], { stdio: "ignore", env: env() });
    }
  }
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: searchPath(), LC_ALL: "C" };
}

/** Runs `command` on the host (not in a namespace); resolves with its output whatever its status. */
export function execHost(command: readonly string[], options: ExecOptions = {}) {
  return execIn(undefined, command, options);
}

function execIn(
  netns: string | undefined,
  command: readonly string[],
  options: ExecOptions,
): Promise<CommandResult> {
  const argv = netns === undefined ? command : ["ip", "netns", "exec", netns, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: env(), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.stdin.on("error", () => {}); // a command that exits without reading its input
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.end(options.input ?? "");
  });
}

export class Netns {
  readonly name: string;
  readonly #children = new Set<ChildProcess>();
  #closed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a namespace with loopback up and IPv6 off (so the kernel adds no chatter of its own). */
  static async create(): Promise<Netns> {
    reapStaleNamespaces();
    const name = uniqueName(PREFIX, 64);
    const added = await execHost(["ip", "netns", "add", name]);
    if (added.code !== 0) throw new CommandError(["ip", "netns", "add", name], added);
    const ns = new Netns(name);
    try {
      await ns.run(["ip", "link", "set", "lo", "up"]);
      await ns.run([
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
      ]);
    } catch (error) {
      await ns.close();
      throw error;
    }
    return ns;
  }

  /** Runs a command in the namespace; resolves with its result whatever its status. */
  exec(command: readonly string[], options: ExecOptions = {}): Promise<CommandResult> {
    return execIn(this.name, command, options);
  }

  /** Runs a command in the namespace and returns its stdout; rejects when it fails. */
  async run(command: readonly string[], options: ExecOptions = {}): Promise<string> {
    const result = await this.exec(command, options);
    if (result.code !== 0) throw new CommandError(command, result);
    return result.stdout;
  }

  /** `ip <args>` in the namespace. */
  ip(...args: string[]): Promise<string> {
    return this.run(["ip", ...args]);
  }

  /** Starts a long-running command in the namespace; close() ends it if it is still running. */
  spawn(command: readonly string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.name, ...command], {
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#children.add(child);
    child.on("close", () => this.#children.delete(child));
    return child;
  }

  /** Ends what it started (by process id), then deletes the namespace. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#children].map((child) => stopChild(child)));
    await execHost(["ip", "netns", "del", this.name]);
  }
}

/** SIGTERM, then SIGKILL after a second; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 1000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
