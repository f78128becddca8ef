// The website on Atoll's direct stack over a real TAP device, with Linux's
// own TCP/IP and curl on the other side (in a network namespace). Needs
// root (CAP_NET_ADMIN); skipped with the reason otherwise.
import { spawnSync } from "node:child_process";
import { systemMonotonicClock, systemTime, systemWallClock } from "@atoll/clock";
import { memoryConsole } from "@atoll/console";
import { systemRandom } from "@atoll/entropy/node";
import { staticKv } from "@atoll/kv";
import { tap } from "@atoll/netif-tap";
import { direct } from "@atoll/tcpip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebsiteStatus } from "../src/status.js";
import { Website } from "../src/unikernel.js";
import { type Netns, netnsWithLink, tapName, tapSkipReason } from "./support/netns.js";
import { siteImage } from "./support/site.js";

const reason =
  tapSkipReason() ??
  (spawnSync("curl", ["--version"], { stdio: "ignore" }).status === 0
    ? undefined
    : "curl is missing (apt-get install curl)");
if (reason) console.warn(`skipping the website's TAP tests: ${reason}`);

describe.skipIf(reason !== undefined)("on a TAP device, with curl on Linux's side", () => {
  const link = tapName();
  let uk: ReturnType<typeof Website>;
  let ns: Netns;
  const out = memoryConsole();
  const base = "http://10.77.0.2:8080";
  const curl = (...args: string[]) => ns.exec("curl", ["-sS", "--max-time", "10", ...args]);

  beforeAll(async () => {
    uk = Website({
      console: out,
      stack: direct(),
      netif: tap({ name: link }),
      clock: systemMonotonicClock(),
      wallClock: systemWallClock(),
      time: systemTime(),
      random: systemRandom(),
      assets: staticKv(await siteImage()),
    });
    await uk.start(["--ipv4=10.77.0.2/24"]);
    ns = netnsWithLink(link, "10.77.0.1/24");
  }, 60_000);

  afterAll(async () => {
    await uk?.stop();
    ns?.close();
  });

  it("serves curl its pages, with 304 and 206", async () => {
    expect(out.console.text()).toContain("website: serving http://10.77.0.2:8080/\n");
    const head = await curl("-i", `${base}/`);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toContain("server: atoll-website (stack.direct)\r\n");
    expect(head).toContain("content-type: text/html; charset=utf-8\r\n");
    expect(head).toContain("You are talking to a <em>unikernel</em>.");
    const etag = /etag: ("[0-9a-f]{64}")/.exec(head)![1]!;
    const conditional = await curl("-i", "-H", `If-None-Match: ${etag}`, `${base}/`);
    expect(conditional).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    const part = await curl("-i", "-r", "0-14", `${base}/index.html`);
    expect(part).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    expect(part.endsWith("\r\n\r\n<!doctype html>")).toBe(true);
    const onlyHead = await curl("-I", `${base}/style.css`);
    expect(onlyHead).toContain("content-type: text/css; charset=utf-8\r\n");
  });

  it("counts curl's packets and connections in /status", async () => {
    const status = JSON.parse(await curl(`${base}/status`)) as WebsiteStatus;
    expect(status.stack).toMatchObject({
      driver: "stack.direct",
      netif: "netif.tap",
      address: "10.77.0.2",
    });
    expect(status.counters.packets!.received).toBeGreaterThan(10);
    expect(status.counters.connections.accepted).toBeGreaterThanOrEqual(5);
    expect(status.counters.http!.requests).toBeGreaterThanOrEqual(5);
  });
});
