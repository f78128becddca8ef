// The README's DHCP recipe, run as written: a TAP device made inside a fresh
// network namespace, dnsmasq serving DHCP on Linux's side of it, and the built
// website (`node dist/main.js --net=tap --tap=... --ipv4=dhcp`) started in
// that namespace. It must take the leased address, print it as its URL and
// serve curl there. Needs root, the built program, dnsmasq and curl; skipped
// with the reason otherwise. Namespaces and dnsmasq come from @atoll/interop.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Dnsmasq, Netns, skipReason, startDnsmasq, uniqueName } from "@atoll/interop";
import { afterEach, describe, expect, it } from "vitest";
import type { WebsiteStatus } from "../src/status.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const built = existsSync(MAIN) ? undefined : `${MAIN} is not built (run pnpm build)`;
if (built) console.warn(`skipping the website's DHCP test: ${built}`);
const reason = built ?? skipReason("the website's DHCP test", "dnsmasq", "curl");

let ns: Netns | undefined;
let dnsmasq: Dnsmasq | undefined;
afterEach(async () => {
  await dnsmasq?.stop();
  await ns?.close();
  dnsmasq = undefined;
  ns = undefined;
});

describe.skipIf(reason !== undefined)("the website on TAP with --ipv4=dhcp", () => {
  it("takes its address from dnsmasq, prints it, and serves curl there", async () => {
    const link = uniqueName("atwd");
    ns = await Netns.create();
    await ns.ip("tuntap", "add", "dev", link, "mode", "tap");
    await ns.ip("addr", "add", "10.78.0.1/24", "dev", link);
    await ns.ip("link", "set", link, "up");
    dnsmasq = await startDnsmasq(ns, {
      interface: link,
      range: ["10.78.0.50", "10.78.0.99"],
      lease: "1h",
    });

    const website = ns.spawn([process.execPath, MAIN, "--net=tap", `--tap=${link}`, "--ipv4=dhcp"]);
    let output = "";
    const [, url, address] = await new Promise<RegExpExecArray>((resolve, reject) => {
      const check = (chunk: Buffer) => {
        output += chunk;
        const match = /website: serving (http:\/\/(10\.78\.0\.\d+):8080\/)\n/.exec(output);
        if (match) resolve(match);
      };
      website.stdout!.on("data", check);
      website.stderr!.on("data", check);
      website.on("exit", (code) =>
        reject(new Error(`exited (${code}) before serving:\n${output}`)),
      );
    });
    await dnsmasq.waitFor(/DHCPACK/);
    const acked = /DHCPACK\(\S+\) (10\.78\.0\.\d+)/.exec(dnsmasq.log());
    expect(acked?.[1]).toBe(address);

    const curl = (...args: string[]) => ns!.run(["curl", "-sS", "--max-time", "10", ...args]);
    const home = await curl("-i", url!);
    expect(home).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(home).toContain("You are talking to a <em>unikernel</em>.");
    const status = JSON.parse(await curl(`${url}status`)) as WebsiteStatus;
    expect(status.stack).toMatchObject({ driver: "stack.direct", netif: "netif.tap", address });
    expect(status.stack.dhcp).toMatchObject({ server: "10.78.0.1", leaseSeconds: 3600 });

    const exited = new Promise<number | null>((resolve) => website.on("exit", resolve));
    website.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 180_000);
});
