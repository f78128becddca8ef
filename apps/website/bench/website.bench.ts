// Requests/s and p99 latency for a small page (the site's index.html,
// about 5 KB), keep-alive, 50 connections, autocannon in a child process:
//
//  1. the website on Atoll's direct stack over a TAP device, autocannon
//     inside a network namespace holding the Linux side (needs root);
//  2. the website on Atoll's socket stack (host sockets, 127.0.0.1);
//
// each next to the same fetch handler on node:http over kernel sockets
// (127.0.0.1), measured in the same run, rounds alternated, best kept.
import { execFile } from "node:child_process";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import { report } from "@atoll/bench";
import { systemMonotonicClock, systemTime, systemWallClock } from "@atoll/clock";
import { memoryConsole } from "@atoll/console";
import { systemRandom } from "@atoll/entropy/node";
import { StaticKv, staticKv } from "@atoll/kv";
import { captureDirectory } from "@atoll/kv/build";
import { direct } from "@atoll/tcpip";
import { createSocketStack, socketStack } from "@atoll/tcpip/socket";
import { Website } from "../src/unikernel.js";
import { createWebsite } from "../src/website.js";
import { SITE_DIR } from "../test/support/site.js";

const CONNECTIONS = 50;
const SECONDS = Number(process.env.ATOLL_BENCH_SECONDS ?? 4);
const ROUNDS = 2;
const PAGE = "/";

interface Load {
  requestsPerSecond: number;
  p99Ms: number;
}

const autocannonBin = createRequire(import.meta.url).resolve("autocannon/autocannon.js");

/** Runs autocannon against `url`, optionally inside a network namespace. */
function autocannon(url: string, netns?: string, seconds = SECONDS): Promise<Load> {
  const args = [autocannonBin, "-c", String(CONNECTIONS), "-d", String(seconds), "-j", url];
  const [command, argv] =
    netns === undefined
      ? [process.execPath, args]
      : ["ip", ["netns", "exec", netns, process.execPath, ...args]];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { maxBuffer: 16 << 20 }, (error, stdout) => {
      if (error) return reject(error);
      const result = JSON.parse(stdout);
      if (result.non2xx > 0 || result.errors > 0 || result.requests.total === 0) {
        return reject(
          new Error(`autocannon on ${url}: ${result.non2xx} non-2xx, ${result.errors} errors`),
        );
      }
      resolve({ requestsPerSecond: result.requests.average, p99Ms: result.latency.p99 });
    });
  });
}

/** node:http running a fetch handler, the way @hono/node-server and friends adapt one. */
function nodeHttpServer(handler: (request: Request) => Promise<Response>): http.Server {
  return http.createServer(async (req, res) => {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url}`, {
      method: req.method!,
      headers,
    });
    const response = await handler(request);
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      out[k] = v;
    });
    const bytes = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
    res.writeHead(response.status, out);
    res.end(bytes);
  });
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });

function rows(name: string, atoll: Load, peer: Load): void {
  const peerName = "node:http + same fetch handler, loopback";
  report({
    suite: "website",
    name: `${name}: requests/s`,
    unit: "req/s",
    higherIsBetter: true,
    atoll: atoll.requestsPerSecond,
    peer: peer.requestsPerSecond,
    peerName,
    target: "≥ 0.5x",
  });
  report({
    suite: "website",
    name: `${name}: p99 latency`,
    unit: "ms",
    higherIsBetter: false,
    atoll: atoll.p99Ms,
    peer: peer.p99Ms,
    peerName,
  });
}

/**
 * Warms both servers up (JIT, connection setup, ARP) with a short unmeasured
 * run each, then alternates the two loads ROUNDS times and keeps each one's best.
 */
async function alternate(
  atoll: (seconds?: number) => Promise<Load>,
  peer: (seconds?: number) => Promise<Load>,
) {
  await atoll(1);
  await peer(1);
  let a: Load | undefined;
  let p: Load | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const x = await atoll();
    const y = await peer();
    if (!a || x.requestsPerSecond > a.requestsPerSecond) a = x;
    if (!p || y.requestsPerSecond > p.requestsPerSecond) p = y;
  }
  return { atoll: a!, peer: p! };
}

const image = (await captureDirectory(SITE_DIR)).image;
const hostDevices = () => ({
  console: memoryConsole(),
  clock: systemMonotonicClock(),
  wallClock: systemWallClock(),
  time: systemTime(),
  assets: staticKv(image),
});

// The peer: the website's own handler (the same createWebsite, the same
// store, the same page) on node:http.
const peerStack = createSocketStack();
const peerSite = createWebsite({
  assets: new StaticKv(image),
  stack: peerStack,
  graph: Website({ ...hostDevices(), stack: socketStack() }).describe(),
  uptimeNs: () => 0,
});
const peerServer = nodeHttpServer(peerSite.fetch);
peerServer.keepAliveTimeout = 60_000;
const peerPort = await freePort();
await new Promise<void>((resolve) => peerServer.listen(peerPort, "127.0.0.1", resolve));
const peerUrl = `http://127.0.0.1:${peerPort}${PAGE}`;
const peer = (seconds?: number) => autocannon(peerUrl, undefined, seconds);

// ---- 1. direct stack over TAP ----------------------------------------------------------------
const { tapSkipReason, netnsWithLink, tapName } = await import("../test/support/netns.js");
const tapReason = tapSkipReason();
if (tapReason !== undefined) {
  console.warn(`website bench: skipping the TAP figures: ${tapReason}`);
} else {
  const { tap } = await import("@atoll/netif-tap");
  const link = tapName();
  const uk = Website({
    ...hostDevices(),
    stack: direct(),
    netif: tap({ name: link }),
    random: systemRandom(),
  });
  await uk.start(["--ipv4=10.78.0.2/24", "--port=8080"]);
  const ns = netnsWithLink(link, "10.78.0.1/24");
  try {
    const url = `http://10.78.0.2:8080${PAGE}`;
    const result = await alternate((seconds) => autocannon(url, ns.name, seconds), peer);
    rows("direct stack over TAP, 50 conns keep-alive", result.atoll, result.peer);
  } finally {
    await uk.stop();
    ns.close();
  }
}

// ---- 2. socket stack ---------------------------------------------------------------------------
{
  const port = await freePort();
  const uk = Website({ ...hostDevices(), stack: socketStack() });
  await uk.start([`--port=${port}`]);
  try {
    const url = `http://127.0.0.1:${port}${PAGE}`;
    const result = await alternate((seconds) => autocannon(url, undefined, seconds), peer);
    rows("socket stack, 50 conns keep-alive", result.atoll, result.peer);
  } finally {
    await uk.stop();
  }
}

peerServer.closeAllConnections();
peerServer.close();
await peerStack.close();
process.exit(0);
