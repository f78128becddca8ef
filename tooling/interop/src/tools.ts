// What the interop suite needs from the machine — root, /dev/net/tun, the
// TAP addon, and Linux's own tools — and why a test cannot run when
// something is missing. Each tool is named with the Debian package that
// provides it (what .ci/run installs).

import { spawnSync } from "node:child_process";
import { tapUnavailableReason } from "@atoll/netif-tap";

/** The command-line tools the suite uses, by the Debian package providing each. */
export const TOOL_PACKAGES = {
  ip: "iproute2",
  ping: "iputils-ping",
  curl: "curl",
  nc: "netcat-openbsd",
  socat: "socat",
  dnsmasq: "dnsmasq-base",
  tshark: "tshark",
  python3: "python3",
  sha256sum: "coreutils",
  head: "coreutils",
} as const;
export type Tool = keyof typeof TOOL_PACKAGES;

const found = new Map<string, boolean>();

/** True when `command` is on the PATH (or in /usr/sbin, /sbin, where dnsmasq and ip live). */
export function hasCommand(command: string): boolean {
  let ok = found.get(command);
  if (ok === undefined) {
    ok =
      spawnSync("sh", ["-c", `command -v "$0" >/dev/null`, command], {
        stdio: "ignore",
        env: { ...process.env, PATH: searchPath() },
      }).status === 0;
    found.set(command, ok);
  }
  return ok;
}

/** PATH with the system directories added (a non-login root shell may lack /usr/sbin). */
export function searchPath(): string {
  const extra = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
  const have = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  return [...have, ...extra.filter((d) => !have.includes(d))].join(":");
}

/** Why the suite (or a test needing `tools`) cannot run here, or undefined when it can. */
export function interopSkipReason(...tools: Tool[]): string | undefined {
  if (process.platform !== "linux") return "network namespaces and TAP devices need Linux";
  if (process.getuid?.() !== 0) return "the interop suite runs as root (namespaces, TAP devices)";
  const tap = tapUnavailableReason();
  if (tap !== undefined) return tap;
  const missing = (["ip", ...tools] as Tool[]).filter((t) => !hasCommand(t));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((t) => TOOL_PACKAGES[t]))];
    return `missing ${missing.join(", ")} (Debian packages: ${packages.join(" ")})`;
  }
  return undefined;
}

/** Prints why `what` is skipped, when it is; returns the reason (for `it.skipIf`). */
export function skipReason(what: string, ...tools: Tool[]): string | undefined {
  const reason = interopSkipReason(...tools);
  if (reason !== undefined) console.warn(`skipping ${what}: ${reason}`);
  return reason;
}

/** One line of progress, flushed at once (vitest buffers console.log per test). */
export function progress(message: string): void {
  process.stderr.write(`[interop ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
