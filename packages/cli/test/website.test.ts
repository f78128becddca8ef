// apps/website sealed: its image carries Atoll's TCP/IP, @atoll/http and the
// site's files, and brings its own Fetch classes, URL and Web streams (the
// realm holds ECMAScript built-ins only). On a named switch it answers a
// client stack in this process; on a TAP device, run as `atoll run` inside a
// network namespace, it answers Linux's curl: pages, 304, 206 and /status.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { readAll } from "@atoll/tcpip/conformance";
import { beforeAll, describe, expect, it } from "vitest";
import type { BuildResult } from "../src/index.js";
import { build, imageWithClientOnSwitch, root, tmp, until } from "./helpers.js";
import { Netns, tapUnavailable } from "./netns.js";

let website: BuildResult;

beforeAll(async () => {
  website = await build(path.join(root, "apps/website/src/image.ts"), tmp());
}, 60_000);

interface Answer {
  readonly status: number;
  readonly head: string;
  readonly headers: Map<string, string>;
  readonly body: Uint8Array;
  readonly text: string;
}

function parseAnswer(bytes: Uint8Array): Answer {
  const raw = new TextDecoder("latin1").decode(bytes);
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.slice(0, 200))}`);
  const head = raw.slice(0, end);
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Map(
    lines.map((l) => [
      l.slice(0, l.indexOf(":")).toLowerCase(),
      l.slice(l.indexOf(":") + 1).trim(),
    ]),
  );
  const body = bytes.subarray(end + 4);
  return {
    status: Number(statusLine!.split(" ")[1]),
    head,
    headers,
    body,
    text: new TextDecoder().decode(body),
  };
}

describe("website, sealed", () => {
  it("is built with TCP/IP, HTTP and the Web APIs it names inside, and no warning", () => {
    expect(website.manifest.name).toBe("website");
    expect(website.manifest.slots).toMatchObject({ netif: "atoll.netif/1" });
    expect(website.webApis).toEqual([]);
    // The code, assets excluded, within the target (150 KB gzipped, the file here).
    expect(website.gzipBytes).toBeLessThan(150_000);
  });

  it("serves pages, 304, 206 and /status on a named switch, to a client stack in this process", async () => {
    const { out, running, client, close } = await imageWithClientOnSwitch(website.path, {
      name: `website-${process.pid}`,
      argv: ["--ipv4=10.9.5.2/24", "--port=80"],
      clientIpv4: "10.9.5.1/24",
      seed: "website-client",
    });
    const get = async (target: string, ...fields: string[]) => {
      const flow = await client.tcp.connect("10.9.5.2", 80);
      const request = [
        `GET ${target} HTTP/1.1`,
        "Host: 10.9.5.2",
        "Connection: close",
        ...fields,
        "",
        "",
      ].join("\r\n");
      const [bytes] = await Promise.all([
        readAll(flow),
        flow.write(new TextEncoder().encode(request)),
      ]);
      await flow.close();
      return parseAnswer(bytes);
    };
    try {
      await until(() => out.text().includes("website: serving"), 10_000);
      expect(out.text()).toContain("website: serving http://10.9.5.2:80/\n");
      const page = await get("/");
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.text).toContain("You are talking to a <em>unikernel</em>.");
      expect(Number(page.headers.get("content-length"))).toBe(page.body.length);
      const etag = page.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
      const again = await get("/", `If-None-Match: ${etag}`);
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      const part = await get("/index.html", "Range: bytes=0-14");
      expect(part.status).toBe(206);
      expect(part.text).toBe("<!doctype html>");
      expect(part.headers.get("content-range")).toBe(`bytes 0-14/${page.body.length}`);
      const missing = await get("/no/such/page");
      expect(missing.status).toBe(404);
      const status = JSON.parse((await get("/status")).text) as {
        stack: { driver: string; address: string };
        counters: { http?: { requests: number } };
      };
      expect(status.stack).toMatchObject({ driver: "stack.direct", address: "10.9.5.2" });
      expect(status.counters.http!.requests).toBeGreaterThanOrEqual(5);
    } finally {
      await close();
    }
    expect((await running.done).status).toBe(0);
    expect(out.text()).not.toMatch(/not a constructor|is not defined/);
  }, 30_000);
});

const bin = path.join(root, "packages/cli/bin/atoll.mjs");
const builtCli = existsSync(path.join(root, "packages/cli/dist/cli.js"));
const curlMissing =
  spawnSync("sh", ["-c", "command -v curl"]).status === 0
    ? undefined
    : "curl is missing (Debian package curl)";
const tapReason =
  (await tapUnavailable()) ??
  curlMissing ??
  (builtCli ? undefined : "the atoll binary is not built (pnpm build)");
if (tapReason !== undefined) console.warn(`website on TAP skipped: ${tapReason}`);

// The binary builds from the packages' dist (injected Web APIs included): its image is the one run on TAP.
const fromBinary = path.join(tmp(), "website.atoll");
describe.skipIf(!builtCli)("website, sealed by the atoll binary", () => {
  it("builds from the packages' dist with no warning", () => {
    const run = spawnSync(
      process.execPath,
      [bin, "build", path.join(root, "apps/website/src/image.ts"), "--out", fromBinary],
      { encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^sealed website 0\.1\.0 → /);
    expect(run.status).toBe(0);
  }, 60_000);
});

describe.skipIf(tapReason !== undefined)(
  "website, sealed, as `atoll run` on TAP, against curl",
  () => {
    it("serves curl its pages, 304, 206 and /status", async () => {
      const ns = await Netns.create();
      try {
        const child = ns.spawn([
          process.execPath,
          bin,
          "run",
          existsSync(fromBinary) ? fromBinary : website.path,
          "--net:netif=tap0",
          "--",
          "--ipv4=10.9.6.2/24",
        ]);
        let text = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
        // The tender opens tap0 before the image starts; the image's self-check needs no peer.
        await until(() => text.includes("website: serving"), 20_000);
        expect(text).toContain("website: serving http://10.9.6.2:8080/\n");
        await ns.ip("addr", "add", "10.9.6.1/24", "dev", "tap0");
        await ns.ip("link", "set", "tap0", "up");
        const curl = async (...args: string[]) => {
          const r = await ns.exec(["curl", "-sS", "--max-time", "10", ...args]);
          expect(r.stderr).toBe("");
          return r.stdout;
        };
        const base = "http://10.9.6.2:8080";
        const page = await curl("-i", `${base}/`);
        expect(page).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(page).toContain("server: atoll-website (stack.direct)\r\n");
        expect(page).toContain("content-type: text/html; charset=utf-8\r\n");
        expect(page).toContain("You are talking to a <em>unikernel</em>.");
        const etag = /etag: ("[0-9a-f]{64}")/.exec(page)![1]!;
        const conditional = await curl("-i", "-H", `If-None-Match: ${etag}`, `${base}/`);
        expect(conditional).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
        expect(conditional.endsWith("\r\n\r\n")).toBe(true);
        const part = await curl("-i", "-r", "0-14", `${base}/index.html`);
        expect(part).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
        expect(part.endsWith("\r\n\r\n<!doctype html>")).toBe(true);
        const status = JSON.parse(await curl(`${base}/status`)) as {
          stack: { driver: string; netif: string; address: string };
          counters: { http?: { requests: number }; connections: { accepted: number } };
        };
        expect(status.stack).toMatchObject({ driver: "stack.direct", address: "10.9.6.2" });
        expect(status.counters.http!.requests).toBeGreaterThanOrEqual(4);
        child.kill("SIGINT");
        expect(await exited).toBe(0);
        expect(text).not.toMatch(/not a constructor|is not defined/);
      } finally {
        await ns.close();
      }
    }, 60_000);
  },
);
