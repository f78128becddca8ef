// The website unikernel, whole: on Atoll's direct stack on a memory switch
// under virtual time (a client direct stack on another port fetches from it),
// and on the host's sockets.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { systemMonotonicClock, systemTime, systemWallClock, VirtualTime } from "@atoll/clock";
import { memoryConsole } from "@atoll/console";
import { isAtollError, seconds } from "@atoll/core";
import { SeededRandom, seededRandom } from "@atoll/entropy";
import { createFetch } from "@atoll/http";
import { staticKv } from "@atoll/kv";
import { directoryKvRo } from "@atoll/kv/node";
import { impair, MemorySwitch } from "@atoll/netif";
import { createDirectStack, direct } from "@atoll/tcpip";
import { socketStack } from "@atoll/tcpip/socket";
import { afterEach, describe, expect, it } from "vitest";
import type { WebsiteStatus } from "../src/status.js";
import { Website } from "../src/unikernel.js";
import { freePort } from "./support/net.js";
import { siteImage } from "./support/site.js";

/** The website on a memory switch under virtual time, and a client stack beside it. */
async function onSwitch(options: { loss?: number } = {}) {
  const world = new VirtualTime();
  const sw = new MemorySwitch();
  const out = memoryConsole();
  const common = {
    console: out,
    stack: direct(),
    clock: world.monotonic(),
    wallClock: world.wall(),
    time: world.time(),
    random: seededRandom("website"),
    assets: staticKv(await siteImage()),
  };
  const uk =
    options.loss === undefined
      ? Website({ ...common, netif: sw.port() })
      : Website({
          ...common,
          netif: impair({ wraps: "port", loss: options.loss }),
          port: sw.port(),
        });
  await world.run(uk.start(["--ipv4=10.0.0.2/24", "--port=80"]));
  const client = createDirectStack(
    {
      netif: sw.attach(),
      clock: world.clock,
      time: world.timers,
      random: new SeededRandom("client"),
    },
    { ipv4: "10.0.0.1/24" },
  );
  const fetch = createFetch(client, { time: world.timers });
  const get = async (url: string, init?: RequestInit) => {
    const response = await world.run(fetch(`http://10.0.0.2${url}`, init));
    const body = await world.run(response.arrayBuffer());
    return { response, body: new Uint8Array(body), text: new TextDecoder().decode(body) };
  };
  const status = async () => JSON.parse((await get("/status")).text) as WebsiteStatus;
  const close = async () => {
    await world.run(fetch.close());
    await world.run(client.close());
    await world.run(uk.stop());
  };
  return { world, uk, out, get, status, close };
}

describe("on the direct stack, on a memory switch, under virtual time", () => {
  it("prints its URL and serves its pages with validators, 304 and ranges", async () => {
    const w = await onSwitch();
    try {
      expect(w.out.console.text()).toContain("website: serving http://10.0.0.2:80/\n");
      const home = await w.get("/");
      expect(home.response.status).toBe(200);
      expect(home.response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(home.response.headers.get("server")).toBe("atoll-website (stack.direct)");
      expect(home.text).toContain("You are talking to a <em>unikernel</em>.");
      const etag = home.response.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]{64}"$/);

      const again = await w.get("/", { headers: { "if-none-match": etag } });
      expect(again.response.status).toBe(304);
      expect(again.body.length).toBe(0);

      const part = await w.get("/index.html", { headers: { range: "bytes=0-14" } });
      expect(part.response.status).toBe(206);
      expect(part.text).toBe("<!doctype html>");
      expect(part.response.headers.get("content-range")).toMatch(/^bytes 0-14\/\d+$/);

      const head = await w.get("/style.css", { method: "HEAD" });
      expect(head.response.status).toBe(200);
      expect(Number(head.response.headers.get("content-length"))).toBeGreaterThan(1000);
      expect(head.body.length).toBe(0);

      expect((await w.get("/nothing-here")).response.status).toBe(404);
      expect((await w.get("/site.js")).response.headers.get("content-type")).toBe(
        "text/javascript; charset=utf-8",
      );
    } finally {
      await w.close();
    }
  });

  it("reports its device graph, stack and counters at /status, and they move", async () => {
    const w = await onSwitch();
    try {
      const first = await w.status();
      expect(first.app).toBe("website");
      expect(first.stack).toMatchObject({
        driver: "stack.direct",
        netif: "netif.memory",
        address: "10.0.0.2",
        prefixLength: 24,
        countedByHost: false,
      });
      expect(first.assets.driver).toBe("kv.static");
      const ids = first.graph.nodes.map((n) => n.id).sort();
      expect(ids).toEqual([
        "assets",
        "clock",
        "console",
        "netif",
        "random",
        "stack",
        "time",
        "wallClock",
      ]);
      expect(first.graph.edges).toContainEqual({ from: "stack", to: "netif", need: "netif" });
      expect(first.graph.mermaid).toContain("graph TD");
      expect(first.counters.packets!.received).toBeGreaterThan(0);
      expect(first.counters.connections.current).toBeGreaterThanOrEqual(1);

      await w.world.run(w.world.timers.sleep(seconds(60)));
      for (let i = 0; i < 5; i++) await w.get("/inside.html");
      const later = await w.status();
      expect(later.uptimeSeconds - first.uptimeSeconds).toBeGreaterThanOrEqual(60);
      expect(later.uptimeSeconds - first.uptimeSeconds).toBeLessThan(61);
      expect(later.counters.packets!.received).toBeGreaterThan(first.counters.packets!.received);
      expect(later.counters.packets!.sent).toBeGreaterThan(first.counters.packets!.sent);
      expect(later.counters.http!.requests - first.counters.http!.requests).toBe(6);
      expect(later.counters.retransmits).toBe(0);
    } finally {
      await w.close();
    }
  });

  it("counts retransmissions when its link loses frames", async () => {
    const w = await onSwitch({ loss: 0.1 });
    try {
      for (let i = 0; i < 20; i++) expect((await w.get("/inside.html")).response.status).toBe(200);
      const s = await w.status();
      expect(s.counters.retransmits).toBeGreaterThan(0);
      expect(s.graph.nodes.map((n) => n.driver)).toContain("netif.impair");
    } finally {
      await w.close();
    }
  });

  it("draws its device graph at /device-graph.svg, with a validator", async () => {
    const w = await onSwitch();
    try {
      const svg = await w.get("/device-graph.svg");
      expect(svg.response.headers.get("content-type")).toBe("image/svg+xml");
      for (const id of [
        "website",
        "stack",
        "netif",
        "assets",
        "clock",
        "time",
        "random",
        "console",
      ])
        expect(svg.text).toContain(`data-device="${id}"`);
      expect(svg.text).toContain('data-driver="stack.direct"');
      const etag = svg.response.headers.get("etag")!;
      const again = await w.get("/device-graph.svg", { headers: { "if-none-match": etag } });
      expect(again.response.status).toBe(304);
    } finally {
      await w.close();
    }
  });
});

describe("on the host's sockets", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  const host = (assets: ReturnType<typeof staticKv> | ReturnType<typeof directoryKvRo>) => {
    const out = memoryConsole();
    const uk = Website({
      console: out,
      stack: socketStack(),
      clock: systemMonotonicClock(),
      wallClock: systemWallClock(),
      time: systemTime(),
      assets,
    });
    cleanup.push(() => uk.stop());
    return { uk, out };
  };

  it("serves on 127.0.0.1 and says the host counts the packets", async () => {
    const port = await freePort();
    const { uk, out } = host(staticKv(await siteImage()));
    await uk.start([`--port=${port}`]);
    expect(out.console.text()).toBe(`website: serving http://127.0.0.1:${port}/\n`);
    const home = await fetch(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("server")).toBe("atoll-website (stack.socket)");
    expect(await home.text()).toContain("<title>");
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as WebsiteStatus;
    expect(status.stack).toMatchObject({
      driver: "stack.socket",
      netif: null,
      countedByHost: true,
    });
    expect(status.counters.packets).toBeNull();
    expect(status.counters.retransmits).toBeNull();
    expect(status.counters.connections.opened).toBeGreaterThan(0);
    expect(status.counters.http!.requests).toBeGreaterThanOrEqual(2);
  });

  it("refuses to start, naming the port, when another program holds it", async () => {
    const holder = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as net.AddressInfo).port;
    const { uk } = host(staticKv(await siteImage()));
    const failure = await uk.start([`--port=${port}`]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isAtollError(failure, "ATOLL_WEBSITE_LISTEN")).toBe(true);
    expect((failure as Error).message).toContain(`127.0.0.1:${port} is held by another program`);
  });

  it("with the directory store (--dev), serves edits as they are made, with a new ETag", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "website-dev-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, "index.html"), "<p>first</p>");
    const port = await freePort();
    const { uk } = host(directoryKvRo());
    await uk.start([`--port=${port}`, `--root=${dir}`]);
    const one = await fetch(`http://127.0.0.1:${port}/`);
    expect(await one.text()).toBe("<p>first</p>");
    writeFileSync(path.join(dir, "index.html"), "<p>second, edited</p>");
    const two = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { "if-none-match": one.headers.get("etag")! },
    });
    expect(two.status).toBe(200);
    expect(await two.text()).toBe("<p>second, edited</p>");
    expect(two.headers.get("etag")).not.toBe(one.headers.get("etag"));
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as WebsiteStatus;
    expect(status.assets.driver).toBe("kv.directory-ro");
  });
});
