// Real peers over kernel sockets: Node's fetch (undici), node:http and curl
// as clients of our server, and node:http as a server for our client. Our
// side runs on Atoll's socket stack (@atoll/tcpip/socket).
import { execFile, execFileSync } from "node:child_process";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { createSocketStack, type SocketStack } from "@atoll/tcpip/socket";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFetch, type HttpListener, serveHttp } from "../src/index.js";

const handler = async (request: Request): Promise<Response> => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/hello":
      return new Response("hello, peer\n", { headers: { "content-type": "text/plain" } });
    case "/echo":
      return new Response(request.body, {
        headers: {
          "x-method": request.method,
          "x-length": request.headers.get("content-length") ?? "-",
        },
      });
    case "/count": {
      let n = 0;
      const reader = request.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        n += value.length;
      }
      return Response.json({ bytes: n });
    }
    case "/big":
      return new Response(new Uint8Array(3 << 20).fill(97));
    default:
      return new Response("not found\n", { status: 404 });
  }
};

/** A port the kernel just handed out and took back (the socket stack listens on a given port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (the socket stack binds asynchronously). */
async function listening(port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (attempt > 100) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let stack: SocketStack;
let server: HttpListener;
let base: string;

beforeAll(async () => {
  stack = createSocketStack();
  const port = await freePort();
  server = serveHttp(stack.tcp, port, handler);
  await listening(port);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server.close({ graceNs: 1e9 });
  await stack.close();
});

describe("Node's fetch (undici) against our server", () => {
  it("GETs, POSTs a stream, downloads 3 MiB, on kept-alive connections", async () => {
    const before = server.stats.totalConnections;
    const hello = await fetch(`${base}/hello`);
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe("hello, peer\n");

    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(`part ${i};`));
        controller.close();
      },
    });
    const echoed = await fetch(`${base}/echo`, {
      method: "POST",
      body,
      // @ts-expect-error: duplex is in the fetch standard, not yet in the DOM typings.
      duplex: "half",
    });
    expect(echoed.headers.get("x-length")).toBe("-");
    expect(await echoed.text()).toBe(Array.from({ length: 10 }, (_, i) => `part ${i};`).join(""));

    const big = await fetch(`${base}/big`);
    expect((await big.arrayBuffer()).byteLength).toBe(3 << 20);
    expect(server.stats.totalConnections - before).toBeLessThanOrEqual(2);
  });
});

describe("node:http against our server", () => {
  it("sends its body after 100 Continue and reuses a keep-alive agent's socket", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = server.stats.totalConnections;
    const port = Number(new URL(base).port);
    const request = (path: string, body?: string, expect100 = false) =>
      new Promise<{ status: number; text: string; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            path,
            method: body === undefined ? "GET" : "POST",
            agent,
            headers: expect100 ? { expect: "100-continue" } : {},
          },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (d) => {
              text += d;
            });
            res.on("end", () => resolve({ status: res.statusCode!, text, continued }));
          },
        );
        req.on("error", reject);
        if (expect100) {
          req.on("continue", () => {
            continued = true;
            req.end(body);
          });
        } else req.end(body);
      });
    const a = await request("/echo", "x".repeat(100_000), true);
    expect(a.continued).toBe(true);
    expect(a.text).toBe("x".repeat(100_000));
    const b = await request("/hello");
    expect(b.text).toBe("hello, peer\n");
    const c = await request("/missing");
    expect(c.status).toBe(404);
    expect(server.stats.totalConnections - before).toBe(1);
    agent.destroy();
  });
});

const curl = (() => {
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!curl)
  console.warn("interop: curl is not installed (apt-get install curl); skipping the curl tests");

function runCurl(args: string[], input?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "curl",
      ["-sS", "--http1.1", ...args],
      { maxBuffer: 16 << 20 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout),
    );
    if (input) child.stdin!.end(input);
  });
}

describe.skipIf(!curl)("curl against our server", () => {
  it("reuses one connection for several URLs and shows our headers", async () => {
    const before = server.stats.totalConnections;
    const out = await runCurl(["-i", `${base}/hello`, `${base}/hello`, `${base}/missing`]);
    expect(out.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(out).toContain("HTTP/1.1 404 Not Found");
    expect(out).toContain("content-length: 12");
    expect(server.stats.totalConnections - before).toBe(1);
  });

  it("uploads with Expect: 100-continue and with chunked encoding", async () => {
    const payload = Buffer.alloc(2 << 20, 98);
    const expectOut = await runCurl(
      ["-H", "Expect: 100-continue", "--data-binary", "@-", `${base}/count`],
      payload,
    );
    expect(JSON.parse(expectOut)).toEqual({ bytes: 2 << 20 });
    const chunkedOut = await runCurl(
      ["-H", "Transfer-Encoding: chunked", "--data-binary", "@-", `${base}/count`],
      payload,
    );
    expect(JSON.parse(chunkedOut)).toEqual({ bytes: 2 << 20 });
  });

  it("gets headers only for HEAD", async () => {
    const out = await runCurl(["-I", `${base}/hello`]);
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out).toContain("content-length: 12");
  });
});

describe("our client against node:http", () => {
  it("GETs, streams a chunked upload, reads a chunked download, and keeps the connection alive", async () => {
    const connections: number[] = [];
    const peer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === "/chunked") {
          res.write("first ");
          setTimeout(() => res.end("second"), 2);
          return;
        }
        if (req.url === "/empty") {
          res.writeHead(204).end();
          return;
        }
        res.setHeader("x-te", req.headers["transfer-encoding"] ?? "-");
        res.end(`${req.method} ${req.url} ${body}`);
      });
    });
    peer.on("connection", () => connections.push(1));
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
    const port = (peer.address() as AddressInfo).port;
    const client = createSocketStack();
    const fetch = createFetch(client);
    try {
      const got = await fetch(`http://127.0.0.1:${port}/a?b=c`);
      expect(await got.text()).toBe("GET /a?b=c ");
      const upload = await fetch(`http://127.0.0.1:${port}/up`, {
        method: "POST",
        body: new ReadableStream({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("streamed "));
            await new Promise((r) => setTimeout(r, 2));
            controller.enqueue(new TextEncoder().encode("upload"));
            controller.close();
          },
        }),
        // @ts-expect-error: duplex is in the fetch standard, not yet in the DOM typings.
        duplex: "half",
      });
      expect(upload.headers.get("x-te")).toBe("chunked");
      expect(await upload.text()).toBe("POST /up streamed upload");
      expect(await (await fetch(`http://127.0.0.1:${port}/chunked`)).text()).toBe("first second");
      expect((await fetch(`http://127.0.0.1:${port}/empty`)).status).toBe(204);
      expect(connections).toHaveLength(1);
    } finally {
      await fetch.close();
      await client.close();
      peer.closeAllConnections();
      await new Promise((r) => peer.close(r));
    }
  });
});
