// Programs the unikernel runs during interop tests, on any Stack: TCP and
// UDP echo, a TCP source and sink, and a tiny HTTP/1.1 responder (GET sends
// N deterministic bytes, PUT/POST hashes the body) for curl. Each records
// what happened — bytes, SHA-256 digests, typed errors — for the test to
// check against what Linux saw.

import { createHash } from "node:crypto";
import { isAtollError } from "@atoll/core";
import type { Flow, Stack } from "@atoll/tcpip";

const CHUNK = 64 * 1024;

/** Fills `out` with chunk `index` of the deterministic stream `seed` (xorshift32 words). */
export function fillPattern(out: Uint8Array, seed: number, index: number): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let x = (seed * 0x9e3779b9 + index * 0x85ebca6b + 1) >>> 0 || 1;
  for (let k = 0; k < words.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[k] = x >>> 0;
  }
  for (let k = words.length * 4; k < out.length; k++) out[k] = (index + k) & 0xff;
}

/** The SHA-256 (hex) of the first `bytes` bytes of stream `seed`. */
export function patternDigest(seed: number, bytes: number): string {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(CHUNK);
  for (let at = 0, i = 0; at < bytes; at += CHUNK, i++) {
    fillPattern(chunk, seed, i);
    hash.update(chunk.subarray(0, Math.min(CHUNK, bytes - at)));
  }
  return hash.digest("hex");
}

/** Writes `bytes` bytes of stream `seed` to `flow`, awaiting each write (backpressure). */
export async function writePattern(flow: Flow, seed: number, bytes: number): Promise<void> {
  const chunk = new Uint8Array(CHUNK);
  for (let at = 0, i = 0; at < bytes; at += CHUNK, i++) {
    fillPattern(chunk, seed, i);
    await flow.write(chunk.subarray(0, Math.min(CHUNK, bytes - at)));
  }
}

/** What one connection did, as the unikernel saw it. */
export interface FlowRecord {
  readonly remote: string;
  bytesIn: number;
  bytesOut: number;
  /** SHA-256 of the bytes received (hex), once the flow ended. */
  digestIn: string | undefined;
  /** The error that ended it (typed AtollError), if any. */
  error: unknown;
  /** Its code when it is an AtollError. */
  errorCode: string | undefined;
  done: boolean;
}

function record(flow: Flow): FlowRecord {
  return {
    remote: `${flow.remoteAddress}:${flow.remotePort}`,
    bytesIn: 0,
    bytesOut: 0,
    digestIn: undefined,
    error: undefined,
    errorCode: undefined,
    done: false,
  };
}

function fail(r: FlowRecord, error: unknown): void {
  r.error = error;
  r.errorCode = isAtollError(error) ? error.code : undefined;
}

/** A service listening on a port; `flows` is every connection it served. */
export interface Service {
  readonly port: number;
  readonly flows: FlowRecord[];
  /** Most connections open at once. */
  readonly peak: number;
  /** Resolves once `n` connections have ended. */
  ended(n: number): Promise<FlowRecord[]>;
  close(): void;
}

function service(
  stack: Stack,
  port: number,
  serve: (flow: Flow, r: FlowRecord) => Promise<void>,
  options: { backlog?: number } = {},
): Service {
  const flows: FlowRecord[] = [];
  const waiters: Array<{ n: number; resolve: (f: FlowRecord[]) => void }> = [];
  let open = 0;
  let peak = 0;
  const check = () => {
    const ended = flows.filter((f) => f.done).length;
    for (const w of waiters.splice(0)) {
      if (ended >= w.n) w.resolve(flows.filter((f) => f.done));
      else waiters.push(w);
    }
  };
  stack.tcp.listen(
    port,
    (flow) => {
      const r = record(flow);
      flows.push(r);
      open++;
      peak = Math.max(peak, open);
      void serve(flow, r)
        .catch((error: unknown) => {
          fail(r, error);
          flow.abort();
        })
        .finally(() => {
          open--;
          r.done = true;
          check();
        });
    },
    options.backlog === undefined ? {} : { backlog: options.backlog },
  );
  return {
    port,
    flows,
    get peak() {
      return peak;
    },
    ended: (n) =>
      new Promise((resolve) => {
        waiters.push({ n, resolve });
        check();
      }),
    close: () => stack.tcp.unlisten(port),
  };
}

/** TCP echo (RFC 862): every byte back, then close after the peer's FIN. */
export function tcpEcho(stack: Stack, port: number, options: { backlog?: number } = {}): Service {
  return service(
    stack,
    port,
    async (flow, r) => {
      const hash = createHash("sha256");
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) break;
        r.bytesIn += chunk.length;
        hash.update(chunk);
        await flow.write(chunk);
        r.bytesOut += chunk.length;
      }
      r.digestIn = hash.digest("hex");
      await flow.close();
    },
    options,
  );
}

/**
 * Sends `bytes` of stream `seed` to whoever connects, then closes; ignores
 * what it receives. Seed 0 sends zeros (no generator in the way: benchmarks).
 */
export function tcpSource(stack: Stack, port: number, seed: number, bytes: number): Service {
  return service(stack, port, async (flow, r) => {
    const chunk = new Uint8Array(CHUNK);
    for (let at = 0, i = 0; at < bytes; at += CHUNK, i++) {
      if (seed !== 0) fillPattern(chunk, seed, i);
      const piece = chunk.subarray(0, Math.min(CHUNK, bytes - at));
      await flow.write(piece);
      r.bytesOut += piece.length;
    }
    await flow.close();
  });
}

/** Reads to the end and hashes (unless `hash` is false: benchmarks); never sends. */
export function tcpSink(stack: Stack, port: number, options: { hash?: boolean } = {}): Service {
  const hashing = options.hash ?? true;
  return service(stack, port, async (flow, r) => {
    const hash = hashing ? createHash("sha256") : undefined;
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      r.bytesIn += chunk.length;
      hash?.update(chunk);
    }
    r.digestIn = hash?.digest("hex");
    await flow.close();
  });
}

/** UDP echo: each datagram back to its sender, from the port it came to. */
export function udpEcho(stack: Stack, port: number): { received: number; close(): void } {
  const state = {
    received: 0,
    close: () => stack.udp.unlisten(port),
  };
  stack.udp.listen(port, (d) => {
    state.received++;
    void stack.udp.send(d.srcAddress, d.srcPort, d.data.slice(), { srcPort: port }).catch(() => {});
  });
  return state;
}

/**
 * A tiny HTTP/1.1 responder, one request per connection: `GET /` answers
 * `bytes` bytes of stream `seed`; `PUT` or `POST` reads the body
 * (Content-Length; `Expect: 100-continue` honoured) and answers its SHA-256.
 */
export function httpResponder(stack: Stack, port: number, seed: number, bytes: number): Service {
  const encoder = new TextEncoder();
  return service(stack, port, async (flow, r) => {
    // Read the request head.
    let head: Uint8Array = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const chunk = await flow.read();
      if (chunk === null) throw new Error("connection closed before the request head ended");
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      end = indexOfCrlfCrlf(head);
      if (end < 0 && head.length > 16384) throw new Error("request head too large");
    }
    const text = new TextDecoder().decode(head.subarray(0, end));
    let rest: Uint8Array = head.subarray(end + 4);
    const [requestLine = "", ...lines] = text.split("\r\n");
    const method = requestLine.split(" ")[0] ?? "";
    const headers = new Map(
      lines.map((l) => {
        const colon = l.indexOf(":");
        return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()] as const;
      }),
    );
    if (method === "GET") {
      await flow.write(
        encoder.encode(
          `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n`,
        ),
      );
      await writePattern(flow, seed, bytes);
      r.bytesOut = bytes;
      await flow.close();
      return;
    }
    if (method !== "PUT" && method !== "POST") {
      await flow.write(
        encoder.encode(
          "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
      );
      await flow.close();
      return;
    }
    const length = Number(headers.get("content-length") ?? Number.NaN);
    if (!Number.isSafeInteger(length) || length < 0) throw new Error("PUT without Content-Length");
    if ((headers.get("expect") ?? "").toLowerCase() === "100-continue")
      await flow.write(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
    const hash = createHash("sha256");
    let received = 0;
    for (;;) {
      if (rest.length > 0) {
        const take = rest.subarray(0, length - received);
        hash.update(take);
        received += take.length;
        r.bytesIn = received;
      }
      if (received >= length) break;
      const chunk = await flow.read();
      if (chunk === null) throw new Error(`body ended after ${received} of ${length} bytes`);
      rest = chunk;
    }
    r.digestIn = hash.digest("hex");
    const body = `${r.digestIn}\n`;
    await flow.write(
      encoder.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
    await flow.close();
  });
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++)
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10)
      return i;
  return -1;
}
