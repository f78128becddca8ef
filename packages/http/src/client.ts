// The HTTP/1.1 client: a fetch-compatible function over a Stack's TCP, with
// a keep-alive pool per origin (address:port). Response bodies are read from
// the Flow only as the consumer reads them; a connection goes back to the
// pool when its response body has been read to the end.

import type { Time, Timer } from "@atoll/clock";
import type { ConnectOptions, Flow, Tcp } from "@atoll/tcpip";
import {
  badResponse,
  HttpClosedError,
  HttpIncompleteMessageError,
  HttpTimeoutError,
  HttpUnsupportedError,
} from "./errors.js";
import { FlowReader, IncomingBody } from "./flow-reader.js";
import { Framing, OutBuffer, type ProbedBody, probeBody, sendMessage } from "./outgoing.js";
import {
  BodyKind,
  type HeadLimits,
  HeadScanner,
  parseLength,
  parseResponseHead,
  type ResponseHead,
  responseBodyKind,
} from "./wire/head.js";

export interface HttpClientOptions {
  /** Timers for the idle, header and body timeouts; without one there are none. */
  readonly time?: Time;
  /** Connections to one origin at a time; more requests wait (default 16). */
  readonly maxConnectionsPerOrigin?: number;
  /** Idle kept-alive connections kept per origin (default: maxConnectionsPerOrigin). */
  readonly maxIdlePerOrigin?: number;
  /** An idle pooled connection is closed after this long (default 4 s, under common server keep-alive timeouts). */
  readonly idleTimeoutNs?: number;
  /** TCP handshake deadline (default: the stack's, 30 s). */
  readonly connectTimeoutNs?: number;
  /** From the end of the request head to the end of the response head (default 300 s). */
  readonly headersTimeoutNs?: number;
  /** Without progress reading a response body (default 300 s). */
  readonly bodyTimeoutNs?: number;
  /** Response head in bytes (default 64 KiB). */
  readonly maxResponseHeaderBytes?: number;
  /** Redirects followed per request (default 20, as in the fetch standard). */
  readonly maxRedirections?: number;
  /**
   * Turns a host name into an IPv4 address. Without it, URLs must name an
   * IPv4 address (there is no DNS resolver yet).
   */
  readonly resolve?: (hostname: string) => string | Promise<string>;
}

export interface HttpClientStats {
  /** Connections open now (busy and idle). */
  readonly connections: number;
  readonly idleConnections: number;
  /** Requests waiting for a connection. */
  readonly queued: number;
  readonly requests: number;
  /** TCP connections opened. */
  readonly connects: number;
  /** Requests sent on a kept-alive connection. */
  readonly reused: number;
}

/** The function `createFetch` returns: `fetch` plus pool control. */
export type HttpFetch = ((
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>) & {
  /** Closes idle connections now and the rest when their response ends; later calls fail. */
  close(): Promise<void>;
  readonly stats: HttpClientStats;
};

/** Creates a fetch-compatible function that speaks HTTP/1.1 over `stack.tcp`. */
export function createFetch(
  stack: { readonly tcp: Tcp },
  options: HttpClientOptions = {},
): HttpFetch {
  const client = new Client(stack.tcp, options);
  const fetch = (input: string | URL | Request, init?: RequestInit) => client.fetch(input, init);
  return Object.defineProperties(fetch, {
    close: { value: () => client.close() },
    stats: { get: () => client.stats },
  }) as HttpFetch;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const KiB = 1024;

interface Settings {
  readonly maxConnectionsPerOrigin: number;
  readonly maxIdlePerOrigin: number;
  readonly idleTimeoutNs: number;
  readonly headersTimeoutNs: number;
  readonly bodyTimeoutNs: number;
  readonly maxRedirections: number;
  readonly limits: HeadLimits;
}

class Client {
  readonly settings: Settings;
  readonly origins = new Map<string, Origin>();
  closed = false;
  requests = 0;
  connects = 0;
  reused = 0;

  constructor(
    readonly tcp: Tcp,
    readonly options: HttpClientOptions,
  ) {
    const max = options.maxConnectionsPerOrigin ?? 16;
    const headerBytes = options.maxResponseHeaderBytes ?? 64 * KiB;
    this.settings = {
      maxConnectionsPerOrigin: max,
      maxIdlePerOrigin: options.maxIdlePerOrigin ?? max,
      idleTimeoutNs: options.idleTimeoutNs ?? 4e9,
      headersTimeoutNs: options.headersTimeoutNs ?? 300e9,
      bodyTimeoutNs: options.bodyTimeoutNs ?? 300e9,
      maxRedirections: options.maxRedirections ?? 20,
      limits: { maxHeaderBytes: headerBytes, maxHeaderCount: 1000, maxStartLineBytes: headerBytes },
    };
  }

  get stats(): HttpClientStats {
    let connections = 0;
    let idle = 0;
    let queued = 0;
    for (const origin of this.origins.values()) {
      connections += origin.open;
      idle += origin.idle.length;
      queued += origin.waiters.length;
    }
    return {
      connections,
      idleConnections: idle,
      queued,
      requests: this.requests,
      connects: this.connects,
      reused: this.reused,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const origin of this.origins.values()) origin.close();
  }

  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    let request: Request;
    try {
      request = new Request(input, init);
    } catch (error) {
      throw error instanceof TypeError ? error : new TypeError(String(error));
    }
    const signal = request.signal;
    if (signal.aborted) throw signal.reason;
    try {
      return await this.#fetch(request);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof TypeError) throw error;
      throw new TypeError("fetch failed", { cause: error });
    }
  }

  async #fetch(request: Request): Promise<Response> {
    if (this.closed) throw new HttpClosedError("client");
    let url = new URL(request.url);
    let method = request.method;
    let headers = new Headers(request.headers);
    let body: ProbedBody | undefined;
    if (request.body !== null) body = await probeBody(request.body);
    for (let redirects = 0; ; redirects++) {
      const response = await this.#send(url, method, headers, body, request.signal);
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || location === null || request.redirect === "manual") {
        if (redirects > 0) Object.defineProperty(response, "redirected", { value: true });
        return response;
      }
      if (request.redirect === "error")
        throw new TypeError("redirect not allowed (redirect: error)");
      if (redirects >= this.settings.maxRedirections) throw new TypeError("too many redirects");
      void response.body?.cancel().catch(() => {});
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        headers.delete("authorization");
        headers.delete("cookie");
      }
      const status = response.status;
      if (
        status === 303 ? method !== "HEAD" : (status === 301 || status === 302) && method === "POST"
      ) {
        method = "GET";
        if (body !== undefined) void body.reader.cancel().catch(() => {});
        body = undefined;
        headers = new Headers(headers);
        for (const name of [
          "content-type",
          "content-length",
          "content-encoding",
          "content-language",
          "content-location",
        ]) {
          headers.delete(name);
        }
      } else if (body !== undefined && !body.complete) {
        throw new TypeError("cannot follow a redirect with a streamed request body");
      }
      url = next;
    }
  }

  async #address(url: URL): Promise<[string, number]> {
    if (url.protocol !== "http:") {
      throw new HttpUnsupportedError(`${url.protocol} URLs are not supported (HTTP only, no TLS)`);
    }
    const port = url.port === "" ? 80 : Number(url.port);
    let host = url.hostname;
    if (!isIpv4(host)) {
      const resolve = this.options.resolve;
      if (resolve === undefined) {
        throw new HttpUnsupportedError(
          `cannot resolve "${host}": no DNS yet, use an IPv4 address or pass a resolve option`,
        );
      }
      host = await resolve(host);
      if (!isIpv4(host))
        throw new HttpUnsupportedError(
          `"${url.hostname}" resolved to "${host}", not an IPv4 address`,
        );
    }
    return [host, port];
  }

  #origin(address: string, port: number): Origin {
    const key = `${address}:${port}`;
    let origin = this.origins.get(key);
    if (origin === undefined) {
      origin = new Origin(this, address, port);
      this.origins.set(key, origin);
    }
    return origin;
  }

  /** One request on one connection, retried once on a fresh connection when a pooled one turns out dead. */
  async #send(
    url: URL,
    method: string,
    headers: Headers,
    body: ProbedBody | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const [address, port] = await this.#address(url);
    const origin = this.#origin(address, port);
    const replayable = body === undefined || body.complete;
    for (let attempt = 0; ; attempt++) {
      const conn = await origin.acquire(signal, attempt > 0);
      const reused = conn.requests > 0;
      if (reused) this.reused++;
      this.requests++;
      try {
        return await conn.exchange(url, method, headers, body, signal);
      } catch (error) {
        const retry =
          attempt === 0 &&
          reused &&
          !conn.responseStarted &&
          replayable &&
          IDEMPOTENT.has(method) &&
          !signal.aborted;
        if (!retry) throw error;
      }
    }
  }
}

function isIpv4(host: string): boolean {
  const parts = host.split(".");
  if (parts.length !== 4) return false;
  for (const part of parts) {
    if (part.length === 0 || part.length > 3) return false;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return false;
    }
    if (Number(part) > 255) return false;
  }
  return true;
}

interface Waiter {
  resolve(conn: ClientConnection): void;
  reject(error: unknown): void;
}

/** The connections to one address:port. */
class Origin {
  readonly idle: ClientConnection[] = [];
  readonly waiters: Waiter[] = [];
  /** Connections open or being opened. */
  open = 0;

  constructor(
    readonly client: Client,
    readonly address: string,
    readonly port: number,
  ) {}

  async acquire(signal: AbortSignal, fresh: boolean): Promise<ClientConnection> {
    if (this.client.closed) throw new HttpClosedError("client");
    while (!fresh && this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.takeFromPool()) return conn;
    }
    if (this.open < this.client.settings.maxConnectionsPerOrigin) return this.#connect(signal);
    return new Promise<ClientConnection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (conn) => {
          signal.removeEventListener("abort", onAbort);
          resolve(conn);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  async #connect(signal: AbortSignal | undefined): Promise<ClientConnection> {
    this.open++;
    try {
      const options: ConnectOptions = {
        noDelay: true,
        ...(this.client.options.connectTimeoutNs === undefined
          ? {}
          : { timeoutNs: this.client.options.connectTimeoutNs }),
        ...(signal === undefined ? {} : { signal }),
      };
      const flow = await this.client.tcp.connect(this.address, this.port, options);
      this.client.connects++;
      return new ClientConnection(this, flow);
    } catch (error) {
      this.open--;
      this.#serveWaiter();
      throw error;
    }
  }

  /** A connection finished its exchange: pool it or drop it, and serve a waiting request. */
  release(conn: ClientConnection, reusable: boolean): void {
    if (reusable && !this.client.closed && !conn.dead) {
      const waiter = this.waiters.shift();
      if (waiter) {
        waiter.resolve(conn);
        return;
      }
      if (this.idle.length < this.client.settings.maxIdlePerOrigin) {
        this.idle.push(conn);
        conn.park();
        return;
      }
    }
    conn.destroy();
  }

  /** A connection is gone. */
  closed(conn: ClientConnection): void {
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.#serveWaiter();
  }

  #serveWaiter(): void {
    if (this.waiters.length === 0 || this.open >= this.client.settings.maxConnectionsPerOrigin)
      return;
    const waiter = this.waiters.shift()!;
    this.#connect(undefined).then(waiter.resolve, waiter.reject);
  }

  close(): void {
    for (const conn of this.idle.splice(0)) conn.destroy();
    for (const waiter of this.waiters.splice(0)) waiter.reject(new HttpClosedError("client"));
  }
}

class ClientConnection {
  readonly reader: FlowReader;
  readonly scanner: HeadScanner;
  readonly out = new OutBuffer();
  requests = 0;
  dead = false;
  idle = false;
  /** Whether any byte of the current response arrived (a dead pooled connection fails before). */
  responseStarted = false;
  #timer: Timer | undefined;

  constructor(
    readonly origin: Origin,
    readonly flow: Flow,
  ) {
    this.reader = new FlowReader(flow);
    this.scanner = new HeadScanner(origin.client.settings.limits, false);
    flow.closed.then(
      () => this.#gone(),
      () => this.#gone(),
    );
  }

  #gone(): void {
    if (this.dead) return;
    this.dead = true;
    this.#disarm();
    this.origin.closed(this);
  }

  destroy(): void {
    if (this.dead) return;
    try {
      this.flow.abort();
    } catch {}
    this.#gone();
  }

  /** Put in the pool: watch for the server closing it, and close it after the idle timeout. */
  park(): void {
    this.idle = true;
    this.reader.watch().then(
      () => {
        // Anything from the server while idle (EOF, or bytes nobody asked for) ends the connection.
        if (this.idle) this.destroy();
      },
      () => {
        if (this.idle) this.destroy();
      },
    );
    this.#arm(this.origin.client.settings.idleTimeoutNs, () => {
      if (this.idle) this.destroy();
    });
  }

  takeFromPool(): boolean {
    if (this.dead) return false;
    this.idle = false;
    this.#disarm();
    return true;
  }

  #arm(ns: number, onExpire: () => void): void {
    this.#disarm();
    const time = this.origin.client.options.time;
    if (time === undefined || !(ns > 0) || ns === Number.POSITIVE_INFINITY) return;
    this.#timer = time.setTimer(ns, () => {
      this.#timer = undefined;
      onExpire();
    });
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #armProgress(): void {
    const read = this.reader.bytesRead;
    this.#arm(this.origin.client.settings.bodyTimeoutNs, () => {
      if (this.reader.reading && this.reader.bytesRead === read) {
        this.reader.interrupt(new HttpTimeoutError("response body"));
      } else this.#armProgress();
    });
  }

  #write = (data: Uint8Array) => this.flow.write(data);

  async exchange(
    url: URL,
    method: string,
    headers: Headers,
    body: ProbedBody | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    this.requests++;
    this.responseStarted = false;
    const onAbort = () => {
      this.reader.interrupt(signal.reason);
      this.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    let sending: Promise<unknown> | undefined;
    try {
      // ---- the request -------------------------------------------------------------------
      const out = this.out;
      out.reset();
      out.text(`${method} ${url.pathname}${url.search} HTTP/1.1\r\n`);
      out.field("host", url.host);
      let declared = -1;
      for (const [name, value] of headers) {
        switch (name) {
          case "host":
          case "connection":
          case "keep-alive":
          case "transfer-encoding":
          case "upgrade":
            continue;
          case "content-length":
            declared = parseLength(value);
            continue;
        }
        out.field(name, value);
      }
      let framing = Framing.None;
      let length = -1;
      if (body === undefined) {
        if (method === "POST" || method === "PUT" || method === "PATCH") length = 0;
      } else if (body.complete) {
        length = body.first?.length ?? 0;
        framing = length > 0 ? Framing.Length : Framing.None;
      } else if (declared >= 0) {
        length = declared;
        framing = Framing.Length;
      } else {
        framing = Framing.Chunked;
      }
      if (length >= 0) out.field("content-length", String(length));
      else if (framing === Framing.Chunked) out.field("transfer-encoding", "chunked");
      out.crlf();
      // A complete body can be sent again (retry, redirect): send a copy of the probe, not its reader.
      const sent: ProbedBody | undefined =
        body === undefined ? undefined : body.complete ? { ...body, reader: emptyReader } : body;
      sending = sendMessage(out, sent, framing, length, this.#write);
      sending.catch(() => this.destroy());

      // ---- the response head ---------------------------------------------------------------
      this.#arm(this.origin.client.settings.headersTimeoutNs, () => {
        this.reader.interrupt(new HttpTimeoutError("response head"));
      });
      let head: ResponseHead;
      for (;;) {
        head = await this.#readHead();
        if (head.status >= 200) break;
        if (head.status === 101)
          throw new HttpUnsupportedError("protocol upgrades are not supported");
      }
      this.#disarm();

      // ---- the response ------------------------------------------------------------------
      const kind = responseBodyKind(head, method);
      let reusable =
        (head.minor === 1
          ? !head.connectionClose
          : head.connectionKeepAlive && !head.connectionClose) &&
        kind !== BodyKind.UntilClose &&
        !(head.transferEncoding && head.contentLength >= 0);
      const responseHeaders = new Headers();
      try {
        for (let i = 0; i < head.names.length; i++)
          responseHeaders.append(head.names[i]!, head.values[i]!);
      } catch {
        throw badResponse("invalid header field value");
      }
      const incoming = new IncomingBody(
        this.reader,
        kind,
        head.contentLength,
        {
          maxBodyBytes: Number.MAX_SAFE_INTEGER,
          maxTrailerBytes: this.origin.client.settings.limits.maxHeaderBytes,
        },
        false,
      );
      const finish = (ok: boolean) => {
        signal.removeEventListener("abort", onAbort);
        this.#disarm();
        if (!ok) {
          this.destroy();
          return;
        }
        // The request may still be going out (a server that answered early): wait for it.
        sending!.then(
          () => this.origin.release(this, reusable),
          () => this.destroy(),
        );
      };
      let stream: ReadableStream<Uint8Array> | null = null;
      if (kind === BodyKind.None) {
        finish(true);
      } else {
        this.#armProgress();
        stream = new ReadableStream<Uint8Array>(
          {
            pull: async (controller) => {
              try {
                const piece = await incoming.next();
                if (piece === null) {
                  controller.close();
                  finish(true);
                } else controller.enqueue(piece);
              } catch (error) {
                reusable = false;
                finish(false);
                controller.error(
                  signal.aborted ? signal.reason : new TypeError("terminated", { cause: error }),
                );
              }
            },
            cancel: () => {
              reusable = false;
              finish(false);
            },
          },
          { highWaterMark: 0 },
        );
      }
      const response = new Response(stream, {
        status: head.status,
        statusText: head.reason,
        headers: responseHeaders,
      });
      Object.defineProperty(response, "url", { value: url.href });
      return response;
    } catch (error) {
      signal.removeEventListener("abort", onAbort);
      this.destroy();
      throw error;
    }
  }

  async #readHead(): Promise<ResponseHead> {
    const reader = this.reader;
    const scanner = this.scanner;
    scanner.reset();
    for (;;) {
      if (reader.available > 0) {
        this.responseStarted = true;
        const after = scanner.push(reader.chunk, reader.pos, reader.chunk.length);
        if (after >= 0) {
          reader.pos = after;
          return parseResponseHead(
            scanner.bytes,
            scanner.start,
            scanner.end,
            this.origin.client.settings.limits,
          );
        }
        reader.pos = reader.chunk.length;
      }
      if (!(await reader.fill())) throw new HttpIncompleteMessageError("response head");
    }
  }
}

/** A reader for a body already read in full: sending it again needs nothing more from the stream. */
const emptyReader = {
  read: () => Promise.resolve({ done: true, value: undefined }),
  cancel: () => Promise.resolve(),
  releaseLock: () => {},
  closed: Promise.resolve(undefined),
} as unknown as ReadableStreamDefaultReader<Uint8Array>;
