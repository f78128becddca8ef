// A network namespace holding the Linux side of a TAP link, for tests and the
// benchmark: the unikernel opens the TAP device in this process, the device
// is moved into a fresh namespace and addressed there, and Linux programs
// (curl, autocannon) run inside it with `ip netns exec`. Nothing touches the
// host's own network; close() deletes the namespace.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { tapUnavailableReason } from "@atoll/netif-tap";

const PREFIX = "atoll-web-";

function missing(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status !== 0;
}

/** Why TAP tests cannot run here, or undefined when they can. */
export function tapSkipReason(): string | undefined {
  return (
    tapUnavailableReason() ??
    (missing("ip", ["-V"]) ? "the ip command (Debian package iproute2) is missing" : undefined)
  );
}

/** Deletes namespaces left by test processes that died before cleaning up. */
function reapStale(): void {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = new RegExp(`^${PREFIX}(\\d+)-\\d+$`).exec(name);
    if (match === null) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
    }
  }
}

let counter = 0;

/** A TAP interface name unique to this process (at most 15 bytes). */
export function tapName(): string {
  return `atw${process.pid % 1_000_000}-${counter++}`.slice(0, 15);
}

export interface Netns {
  readonly name: string;
  /** Runs a program inside the namespace; resolves with its stdout. Never blocks the event loop. */
  exec(command: string, args: string[], options?: { timeoutMs?: number }): Promise<string>;
  close(): void;
}

/**
 * Creates a namespace, moves `link` (a TAP device this process holds open)
 * into it, gives it `cidr` and brings it up.
 */
export function netnsWithLink(link: string, cidr: string): Netns {
  reapStale();
  const name = `${PREFIX}${process.pid}-${counter++}`;
  execFileSync("ip", ["netns", "add", name]);
  try {
    execFileSync("ip", ["link", "set", link, "netns", name]);
    execFileSync("ip", ["-netns", name, "-batch", "-"], {
      input: `link set lo up\naddr add ${cidr} dev ${link}\nlink set ${link} up\n`,
    });
  } catch (error) {
    spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
    throw error;
  }
  return {
    name,
    exec: (command, args, options = {}) =>
      new Promise((resolve, reject) => {
        execFile(
          "ip",
          ["netns", "exec", name, command, ...args],
          { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 << 20 },
          (error, stdout, stderr) =>
            error
              ? reject(new Error(`${command} failed: ${error.message}\n${stderr}`))
              : resolve(stdout),
        );
      }),
    close: () => {
      spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
    },
  };
}
