// A real browser on the website served by Atoll's own TCP/IP: headless
// Chromium (Debian's, driven by playwright-core; no browser is downloaded)
// loads the site through a loopback proxy into a memory switch, where the
// website runs on the direct stack. Checks that the page draws the device
// graph, that the live counters move, that nothing is fetched from another
// origin and the page raises no errors (a CSP violation would), and saves
// screenshots in test-results/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SwitchSite, startSwitchSite } from "./support/switch-site.js";

const CHROMIUM = process.env.ATOLL_CHROMIUM ?? "/usr/bin/chromium";
const skipReason = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing (apt-get install chromium)`;
if (skipReason) console.warn(`skipping the browser test: ${skipReason}`);

const RESULTS = fileURLToPath(new URL("../test-results", import.meta.url));

describe.skipIf(skipReason !== undefined)("in Chromium, over Atoll's direct stack", () => {
  let site: SwitchSite;
  let profile: string;
  let browser: import("playwright-core").BrowserContext;

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    site = await startSwitchSite();
    profile = mkdtempSync(path.join(tmpdir(), "atoll-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
    });
    mkdirSync(RESULTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("renders the device graph and live counters that move", async () => {
    const page = await browser.newPage();
    const origin = new URL(site.proxy.url).origin;
    const foreign: string[] = [];
    const problems: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(origin)) foreign.push(request.url());
    });
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));

    const response = await page.goto(site.proxy.url);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["server"]).toBe("atoll-website (stack.direct)");
    await expect(page.title()).resolves.toBe("You are talking to a unikernel · Atoll");

    // The picture, inlined by the page's script from /device-graph.svg.
    await page.waitForSelector("#graph svg .device[data-device='netif']", { timeout: 15_000 });
    const devices = await page.$$eval("#graph svg .device", (gs) =>
      gs
        .map((g) => `${g.getAttribute("data-device")}:${g.getAttribute("data-driver") ?? "app"}`)
        .sort(),
    );
    expect(devices).toEqual([
      "assets:kv.static",
      "clock:clock.system-monotonic",
      "console:console.memory",
      "netif:netif.memory",
      "random:random.seeded",
      "stack:stack.direct",
      "time:time.system",
      "wallClock:clock.system-wall",
      "website:app",
    ]);
    const box = await page.locator("#graph svg").boundingBox();
    expect(box!.width).toBeGreaterThan(600);

    // Live counters: filled in from /status, then moving as the page polls.
    await page.waitForFunction(() =>
      /^\d/.test(document.getElementById("c-packets-in")!.textContent ?? ""),
    );
    await expect(page.locator("#live-line").textContent()).resolves.toContain(
      "stack.direct over netif.memory",
    );
    await expect(page.locator("#fact-address").textContent()).resolves.toBe("10.0.0.2/24");
    const read = () =>
      page.evaluate(() => ({
        packets: Number(document.getElementById("c-packets-in")!.textContent!.replaceAll(",", "")),
        requests: Number(document.getElementById("c-requests")!.textContent!.replaceAll(",", "")),
      }));
    const before = await read();
    await page.waitForFunction(
      (n) =>
        Number(document.getElementById("c-requests")!.textContent!.replaceAll(",", "")) >= n + 2,
      before.requests,
      { timeout: 15_000 },
    );
    const after = await read();
    expect(after.packets).toBeGreaterThan(before.packets);
    expect(after.requests).toBeGreaterThan(before.requests);
    await expect(page.locator("#host-note").isHidden()).resolves.toBe(true);

    await page.screenshot({ path: path.join(RESULTS, "website.png"), fullPage: true });
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    expect(site.proxy.stats.failed).toBe(0);
    await page.close();
  });

  it("renders the how-it-works page and the 404 page", async () => {
    const page = await browser.newPage();
    const inside = await page.goto(new URL("/inside.html", site.proxy.url).href);
    expect(inside?.status()).toBe(200);
    await expect(page.locator("h1").textContent()).resolves.toBe("How it works.");
    await page.screenshot({ path: path.join(RESULTS, "inside.png"), fullPage: true });
    const missing = await page.goto(new URL("/no/such/page", site.proxy.url).href);
    expect(missing?.status()).toBe(404);
    await expect(page.locator("h1").textContent()).resolves.toBe("404");
    await page.close();
  });
});
