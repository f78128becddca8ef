// dnsmasq as the DHCP server on the Linux side of a link, in the link's
// namespace: DNS off, one range, a short lease and short T1/T2 (options 58
// and 59) so that renewals come within seconds. Its log (--log-dhcp to
// stderr) is kept for assertions.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Netns, stopChild } from "./netns.js";

export interface DnsmasqOptions {
  /** The interface to serve (inside `netns`). */
  readonly interface: string;
  /** First and last address offered. */
  readonly range: readonly [string, string];
  readonly netmask?: string;
  /** dnsmasq's lease time (at least 2m): `2m`, `1h`. */
  readonly lease?: string;
  /** Option 58 and 59, seconds. */
  readonly renewalSeconds?: number;
  readonly rebindingSeconds?: number;
  readonly router?: string;
  readonly dns?: string;
  readonly mtu?: number;
}

export interface Dnsmasq {
  readonly process: ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** Resolves when its log matches `pattern` (checked as lines arrive); rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startDnsmasq(netns: Netns, options: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = mkdtempSync(path.join(tmpdir(), "atoll-dnsmasq-"));
  const args = [
    "dnsmasq",
    "--keep-in-foreground",
    "--log-facility=-",
    "--log-dhcp",
    "--port=0", // no DNS
    "--no-resolv",
    "--no-hosts",
    "--user=root",
    "--group=root",
    `--interface=${options.interface}`,
    "--bind-interfaces",
    "--dhcp-authoritative",
    `--dhcp-leasefile=${path.join(dir, "leases")}`,
    `--pid-file=${path.join(dir, "pid")}`,
    `--dhcp-range=${options.range[0]},${options.range[1]},${options.netmask ?? "255.255.255.0"},${options.lease ?? "2m"}`,
  ];
  if (options.router !== undefined) args.push(`--dhcp-option=option:router,${options.router}`);
  if (options.dns !== undefined) args.push(`--dhcp-option=option:dns-server,${options.dns}`);
  if (options.mtu !== undefined) args.push(`--dhcp-option=option:mtu,${options.mtu}`);
  if (options.renewalSeconds !== undefined) args.push(`--dhcp-option=58,${options.renewalSeconds}`);
  if (options.rebindingSeconds !== undefined)
    args.push(`--dhcp-option=59,${options.rebindingSeconds}`);
  const child = netns.spawn(args);
  let text = "";
  const watchers = new Set<() => void>();
  const collect = (d: Buffer) => {
    text += d.toString();
    for (const w of [...watchers]) w();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const dnsmasq: Dnsmasq = {
    process: child,
    log: () => text,
    waitFor: (pattern, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) {
            done();
            resolve();
          } else if (child.exitCode !== null) {
            done();
            reject(new Error(`dnsmasq exited (${child.exitCode}):\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`dnsmasq did not log ${pattern} within ${ms} ms:\n${text}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off("close", check);
        };
        watchers.add(check);
        child.on("close", check);
        check();
      }),
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await dnsmasq.waitFor(/DHCP, IP range/);
  } catch (error) {
    await dnsmasq.stop();
    throw error;
  }
  return dnsmasq;
}
