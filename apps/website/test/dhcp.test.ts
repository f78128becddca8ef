// The README's DHCP recipe, run as written: a TAP device made inside a fresh
// network namespace, dnsmasq serving DHCP on Linux's side of it, and the built
// website (`node dist/main.js --net=tap --tap=... --ipv4=dhcp`) started in
// that namespace. It must take the leased address, print it as its URL and
// serve curl there. Needs root, the built program, dnsmasq and curl; skipped
// with the reason otherwise.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { WebsiteStatus } from "../src/status.js";
import { tapName, tapSkipReason } from "./support/netns.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const has = (command: string, args: string[]) =>
  spawnSync(command, args, { stdio: "ignore" }).status === 0;

const reason =
  tapSkipReason() ??
  (existsSync(MAIN) ? undefined : `${MAIN} is not built (run pnpm build)`) ??
  (has("dnsmasq", ["--version"])
    ? undefined
    : "dnsmasq is missing (apt-get install dnsmasq-base)") ??
  (has("curl", ["--version"]) ? undefined : "curl is missing (apt-get install curl)");
if (reason) console.warn(`skipping the website's DHCP test: ${reason}`);

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function started(child: ChildProcess, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  let text = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${ms} ms:\n${text}`)), ms);
    const check = (chunk: Buffer) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${pattern}:\n${text}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve(code));
    child.kill("SIGINT");
  });
}

describe.skipIf(reason !== undefined)("the website on TAP with --ipv4=dhcp", () => {
  it("takes its address from dnsmasq, prints it, and serves curl there", async () => {
    const ns = `atoll-webdhcp-${process.pid}`;
    const link = tapName();
    const dir = mkdtempSync(path.join(tmpdir(), "atoll-website-dhcp-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync("ip", ["netns", "add", ns]);
    cleanups.push(() => spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" }));
    execFileSync("ip", ["-netns", ns, "-batch", "-"], {
      input: `link set lo up\ntuntap add dev ${link} mode tap\naddr add 10.78.0.1/24 dev ${link}\nlink set ${link} up\n`,
    });
    const inNs = (args: string[]) =>
      spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["ignore", "pipe", "pipe"] });

    const dnsmasq = inNs([
      "dnsmasq",
      "--keep-in-foreground",
      "--log-facility=-",
      "--log-dhcp",
      "--port=0",
      "--no-resolv",
      "--no-hosts",
      "--user=root",
      "--group=root",
      `--interface=${link}`,
      "--bind-interfaces",
      "--dhcp-authoritative",
      `--dhcp-leasefile=${path.join(dir, "leases")}`,
      `--pid-file=${path.join(dir, "pid")}`,
      "--dhcp-range=10.78.0.50,10.78.0.99,255.255.255.0,1h",
    ]);
    cleanups.push(() => dnsmasq.kill("SIGKILL"));
    const offered = started(dnsmasq, /DHCPACK\(\S+\) (10\.78\.0\.\d+)/, 90_000);

    const website = inNs([process.execPath, MAIN, "--net=tap", `--tap=${link}`, "--ipv4=dhcp"]);
    cleanups.push(() => website.kill("SIGKILL"));
    const [, url, address] = await started(
      website,
      /website: serving (http:\/\/(10\.78\.0\.\d+):8080\/)\n/,
      90_000,
    );
    const [, acked] = await offered;
    expect(address).toBe(acked);

    const curl = (...args: string[]) =>
      execFileSync("ip", ["netns", "exec", ns, "curl", "-sS", "--max-time", "10", ...args], {
        encoding: "utf8",
      });
    const home = curl("-i", url!);
    expect(home).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(home).toContain("You are talking to a <em>unikernel</em>.");
    const status = JSON.parse(curl(`${url}status`)) as WebsiteStatus;
    expect(status.stack).toMatchObject({ driver: "stack.direct", netif: "netif.tap", address });
    expect(status.stack.dhcp).toMatchObject({ server: "10.78.0.1", leaseSeconds: 3600 });

    expect(await stop(website)).toBe(0);
  }, 180_000);
});
