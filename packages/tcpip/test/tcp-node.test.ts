// node:http and node:tls over Atoll's TCP through the Duplex adapter.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toDuplex } from "../src/node.js";
import type { Flow } from "../src/signature.js";
import { createPair, drive } from "./tcp-link.js";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const openssl = hasOpenssl();
if (!openssl) console.warn("tcp-node: openssl CLI not found, skipping the node:tls tests");

describe("tcp: node:http over the Duplex adapter", () => {
  it("serves requests with bodies in both directions", async () => {
    const pair = createPair({ impairments: { delayNs: 1e6 } });
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        res.setHeader("content-type", "application/octet-stream");
        res.end(Buffer.concat([Buffer.from(`${req.method} ${req.url} `), body]));
      });
    });
    pair.b.tcp.listen(80, (flow) => server.emit("connection", toDuplex(flow)));
    const clientFlow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80));
    const response = new Promise<{ status: number; body: string; remote: string }>(
      (resolve, reject) => {
        const req = http.request(
          {
            method: "POST",
            path: "/echo",
            host: "10.0.0.2",
            createConnection: () => toDuplex(clientFlow) as never,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({
                status: res.statusCode!,
                body: Buffer.concat(chunks).toString(),
                remote: res.socket.remoteAddress ?? "",
              }),
            );
          },
        );
        req.on("error", reject);
        req.end("hello over atoll");
      },
    );
    const r = await drive(pair.world, response);
    expect(r.status).toBe(200);
    expect(r.body).toBe("POST /echo hello over atoll");
    expect(r.remote).toBe("10.0.0.2");
    server.close();
  });

  it("streams a 2 MB response with backpressure", async () => {
    const pair = createPair({ impairments: { delayNs: 1e6, slotNs: 1e6 } });
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const server = http.createServer((_req, res) => res.end(big));
    pair.b.tcp.listen(80, (flow) => server.emit("connection", toDuplex(flow)));
    const clientFlow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80));
    const length = new Promise<number>((resolve, reject) => {
      const req = http.get(
        { path: "/", createConnection: () => toDuplex(clientFlow) as never },
        (res) => {
          let n = 0;
          res.on("data", (c: Buffer) => {
            n += c.length;
          });
          res.on("end", () => resolve(n));
        },
      );
      req.on("error", reject);
    });
    expect(await drive(pair.world, length)).toBe(big.length);
    server.close();
  });
});

describe("tcp: node:tls over the Duplex adapter", () => {
  let dir = "";
  let key = "";
  let cert = "";
  beforeAll(() => {
    if (!openssl) return;
    dir = mkdtempSync(path.join(tmpdir(), "atoll-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=atoll.test",
        "-addext",
        "subjectAltName=DNS:atoll.test",
      ],
      { stdio: "ignore" },
    );
    key = readFileSync(path.join(dir, "key.pem"), "utf8");
    cert = readFileSync(path.join(dir, "cert.pem"), "utf8");
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!openssl)("completes a TLS handshake and echoes through it", async () => {
    const pair = createPair({ impairments: { delayNs: 1e6 } });
    pair.b.tcp.listen(443, (flow: Flow) => {
      const secure = new tls.TLSSocket(toDuplex(flow) as never, { isServer: true, key, cert });
      secure.on("data", (d: Buffer) => secure.write(Buffer.concat([Buffer.from("echo: "), d])));
      secure.on("end", () => secure.end());
      secure.on("error", () => {});
    });
    const clientFlow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 443));
    const result = new Promise<{ reply: string; protocol: string | null; authorized: boolean }>(
      (resolve, reject) => {
        const socket = tls.connect({
          socket: toDuplex(clientFlow) as never,
          ca: cert,
          servername: "atoll.test",
        });
        socket.on("error", reject);
        socket.on("secureConnect", () => socket.write("hello tls"));
        socket.on("data", (d: Buffer) => {
          resolve({
            reply: d.toString(),
            protocol: socket.getProtocol(),
            authorized: socket.authorized,
          });
          socket.end();
        });
      },
    );
    const r = await drive(pair.world, result);
    expect(r.reply).toBe("echo: hello tls");
    expect(r.authorized).toBe(true);
    expect(r.protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it.skipIf(!openssl)("serves HTTPS: node:http over node:tls over Atoll TCP", async () => {
    const pair = createPair({ impairments: { delayNs: 1e6, slotNs: 1e6 } });
    const server = http.createServer((req, res) => res.end(`secure ${req.url}`));
    pair.b.tcp.listen(443, (flow: Flow) => {
      const secure = new tls.TLSSocket(toDuplex(flow) as never, { isServer: true, key, cert });
      secure.on("error", () => {});
      server.emit("connection", secure);
    });
    const clientFlow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 443));
    const body = new Promise<string>((resolve, reject) => {
      const req = http.get(
        {
          path: "/page",
          createConnection: () =>
            tls.connect({
              socket: toDuplex(clientFlow) as never,
              ca: cert,
              servername: "atoll.test",
            }) as never,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks).toString()));
        },
      );
      req.on("error", reject);
    });
    expect(await drive(pair.world, body)).toBe("secure /page");
    server.close();
  });
});
