// Requests/s and p99 latency for a small response, keep-alive, 50 concurrent
// connections: @atoll/http next to the same fetch handler on node:http, in
// the same run.
//
// 1. Over kernel sockets, load from autocannon in a child process: our server
//    on Atoll's socket stack (@atoll/tcpip/socket) vs node:http with a fetch
//    adapter.
// 2. In memory: our client and server over flow pairs (no kernel at all), vs
//    Node's fetch (undici) against node:http over loopback.
import { execFile } from "node:child_process";
import http from "node:http";
import { createRequire } from "node:module";
import net, { type AddressInfo } from "node:net";
import { report } from "@atoll/bench";
import { createFetch, type FetchHandler, serveHttp } from "@atoll/http";
import { createSocketStack } from "@atoll/tcpip/socket";
import { memoryTcp } from "../test/support/flow-pair.js";

const CONNECTIONS = 50;
const SECONDS = Number(process.env.ATOLL_BENCH_SECONDS ?? 4);
const body = "hello from atoll\n";
const handler: FetchHandler = () =>
  new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });

/** node:http running a fetch handler, the way @hono/node-server and friends adapt it. */
function nodeHttpServer(fetchHandler: FetchHandler): http.Server {
  return http.createServer(async (req, res) => {
    const url = `http://${req.headers.host ?? "localhost"}${req.url}`;
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method!,
      headers,
      ...(hasBody ? { body: req as unknown as ReadableStream, duplex: "half" } : {}),
    } as RequestInit);
    const response = await fetchHandler(request);
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      out[k] = v;
    });
    const bytes = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
    if (bytes) out["content-length"] = String(bytes.length);
    res.writeHead(response.status, out);
    res.end(bytes);
  });
}

interface Load {
  requestsPerSecond: number;
  p99Ms: number;
}

const autocannonBin = createRequire(import.meta.url).resolve("autocannon/autocannon.js");

function autocannon(url: string): Promise<Load> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [autocannonBin, "-c", String(CONNECTIONS), "-d", String(SECONDS), "-j", url],
      { maxBuffer: 16 << 20 },
      (error, stdout) => {
        if (error) return reject(error);
        const result = JSON.parse(stdout);
        if (result.non2xx > 0 || result.errors > 0) {
          return reject(
            new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors`),
          );
        }
        resolve({ requestsPerSecond: result.requests.average, p99Ms: result.latency.p99 });
      },
    );
  });
}

/** 50 loops of request-after-request through a fetch function, measuring each latency. */
async function loops(fetch: (url: string) => Promise<Response>, url: string): Promise<Load> {
  const latencies: number[] = [];
  const warmupUntil = performance.now() + 500;
  const until = warmupUntil + SECONDS * 1000;
  let measuredFrom = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (;;) {
        const start = performance.now();
        if (start >= until) return;
        const response = await fetch(url);
        await response.arrayBuffer();
        const end = performance.now();
        if (start >= warmupUntil) {
          if (measuredFrom === 0) measuredFrom = start;
          latencies.push(end - start);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / ((until - warmupUntil) / 1000),
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
  };
}

function rows(name: string, atoll: Load, peer: Load, peerName: string): void {
  report({
    suite: "http",
    name: `${name}: requests/s`,
    unit: "req/s",
    higherIsBetter: true,
    atoll: atoll.requestsPerSecond,
    peer: peer.requestsPerSecond,
    peerName,
    target: "≥ 0.5x",
  });
  report({
    suite: "http",
    name: `${name}: p99 latency`,
    unit: "ms",
    higherIsBetter: false,
    atoll: atoll.p99Ms,
    peer: peer.p99Ms,
    peerName,
  });
}

/** A port the kernel just handed out and took back (the socket stack listens on a given port). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

const listen = (server: http.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );

// ---- 1. kernel sockets, autocannon ---------------------------------------------------------
{
  const sockets = createSocketStack();
  const port = await freePort();
  const atollServer = serveHttp(sockets.tcp, port, handler);
  const atollUrl = `http://127.0.0.1:${port}/`;
  const peerServer = nodeHttpServer(handler);
  peerServer.keepAliveTimeout = 60_000;
  const peerUrl = `http://127.0.0.1:${await listen(peerServer)}/`;
  // Alternate, keep each side's best: noise hurts neither more than the other.
  let atoll: Load | undefined;
  let peer: Load | undefined;
  for (let round = 0; round < 2; round++) {
    const a = await autocannon(atollUrl);
    const p = await autocannon(peerUrl);
    if (!atoll || a.requestsPerSecond > atoll.requestsPerSecond) atoll = a;
    if (!peer || p.requestsPerSecond > peer.requestsPerSecond) peer = p;
  }
  rows(
    "server, 50 conns keep-alive, autocannon over loopback",
    atoll!,
    peer!,
    "node:http + same fetch handler",
  );
  await atollServer.close({ graceNs: 1e9 });
  await sockets.close();
  peerServer.closeAllConnections();
  peerServer.close();
}

// ---- 2. in memory, our client ------------------------------------------------------------
{
  const tcp = memoryTcp();
  const atollServer = serveHttp(tcp, 80, handler);
  const atollFetch = createFetch({ tcp }, { maxConnectionsPerOrigin: CONNECTIONS });
  const peerServer = nodeHttpServer(handler);
  const peerUrl = `http://127.0.0.1:${await listen(peerServer)}/`;
  const atoll = await loops(atollFetch, "http://10.0.0.2/");
  const peer = await loops(fetch, peerUrl);
  rows(
    "client+server in memory, 50 concurrent",
    atoll,
    peer,
    "Node fetch + node:http over loopback",
  );
  await atollFetch.close();
  await atollServer.close({ graceNs: 1e9 });
  peerServer.closeAllConnections();
  peerServer.close();
}
process.exit(0);
