// The HTTP/1.1 server: one loop per Flow reads a request head, hands the
// handler a WHATWG Request whose body is read from the Flow on demand,
// writes the Response it returns, and goes round again on a kept-alive
// connection. Requests on a connection are handled one at a time, so
// pipelined requests are answered in order. Every byte from the peer goes
// through the bounded parser; every failure ends in a status line or a
// closed connection, never in an exception out of the server.

import type { Time, Timer } from "@atoll/clock";
import type { Flow, Tcp } from "@atoll/tcpip";
import {
  HttpClosedError,
  HttpIncompleteMessageError,
  HttpParseError,
  HttpResponseError,
  HttpTimeoutError,
} from "./errors.js";
import { FlowReader, IncomingBody } from "./flow-reader.js";
import { Framing, OutBuffer, type ProbedBody, probeBody, sendMessage } from "./outgoing.js";
import { HttpDate, reasonPhrase } from "./status.js";
import {
  BodyKind,
  type HeadLimits,
  HeadScanner,
  hasToken,
  parseLength,
  parseRequestHead,
  type RequestHead,
  requestBodyKind,
} from "./wire/head.js";

/** The WHATWG fetch handler shape: what Hono's `app.fetch`, itty-router and friends export. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface HttpServerOptions {
  /**
   * Timers for the header, idle and body timeouts. Without a Time device the
   * server has no timeouts: bind one in production (slowloris).
   */
  readonly time?: Time;
  /** A wall clock (ms since the epoch) for the Date header; without one, only the handler sets Date. */
  readonly wallClock?: { now(): number };
  /** Request line, header fields and the empty line, in bytes (default 16 KiB; 431 beyond). */
  readonly maxHeaderBytes?: number;
  /** Header fields per request (default 100; 431 beyond). */
  readonly maxHeaderCount?: number;
  /** Request line in bytes, method and target included (default 8 KiB; 414 beyond). */
  readonly maxUriBytes?: number;
  /** Request body in bytes (default 16 MiB; 413 beyond). */
  readonly maxBodyBytes?: number;
  /** Open connections; more are answered 503 and closed (default 1024). */
  readonly maxConnections?: number;
  /** Requests served on one connection before it is closed (default unlimited). */
  readonly maxRequestsPerConnection?: number;
  /** From the first byte of a request to the end of its head (default 30 s; 408). */
  readonly headersTimeoutNs?: number;
  /** A new connection may stay silent this long (default: headersTimeoutNs; 408). */
  readonly firstRequestTimeoutNs?: number;
  /** A kept-alive connection may stay idle this long between requests (default 5 s; closed). */
  readonly keepAliveTimeoutNs?: number;
  /** Without progress reading a request body or writing a response (default 30 s; 408 or reset). */
  readonly bodyTimeoutNs?: number;
  /** Called with handler errors and responses that could not be sent, for logging. */
  readonly onError?: (error: unknown, request: Request | undefined) => void;
  /** Host used for HTTP/1.0 requests without a Host header (default: the Flow's local address). */
  readonly defaultHost?: string;
}

export interface HttpServerStats {
  /** Connections open now. */
  readonly connections: number;
  readonly totalConnections: number;
  /** Connections refused over maxConnections. */
  readonly rejectedConnections: number;
  /** Requests handed to the handler. */
  readonly requests: number;
  /** Requests being handled now. */
  readonly activeRequests: number;
  /** Requests answered by the server itself with 4xx/5xx for bad input (400, 413, 414, 431, ...). */
  readonly rejectedRequests: number;
  /** Header, idle and body timeouts. */
  readonly timeouts: number;
  /** Handlers that threw, returned no Response or produced a broken body. */
  readonly handlerErrors: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface HttpServer {
  /** Serves HTTP on one connection until it closes; resolves then, never rejects. */
  handleFlow(flow: Flow): Promise<void>;
  /**
   * Stops taking connections, closes idle ones and lets requests in progress
   * finish (their responses say Connection: close). After `graceNs` (with a
   * Time device) the rest are reset. Resolves when every connection is closed.
   */
  close(options?: { graceNs?: number }): Promise<void>;
  /** Resets every connection now. */
  abort(): void;
  /** Connections open now. */
  readonly connections: number;
  readonly closed: boolean;
  readonly stats: HttpServerStats;
}

export interface HttpListener extends HttpServer {
  readonly port: number;
}

const KiB = 1024;

interface Settings extends HeadLimits {
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly maxRequestsPerConnection: number;
  readonly headersTimeoutNs: number;
  readonly firstRequestTimeoutNs: number;
  readonly keepAliveTimeoutNs: number;
  readonly bodyTimeoutNs: number;
}

function settings(o: HttpServerOptions): Settings {
  const headersTimeoutNs = o.headersTimeoutNs ?? 30e9;
  return {
    maxHeaderBytes: o.maxHeaderBytes ?? 16 * KiB,
    maxHeaderCount: o.maxHeaderCount ?? 100,
    maxStartLineBytes: o.maxUriBytes ?? 8 * KiB,
    maxBodyBytes: o.maxBodyBytes ?? 16 * KiB * KiB,
    maxConnections: o.maxConnections ?? 1024,
    maxRequestsPerConnection: o.maxRequestsPerConnection ?? Number.POSITIVE_INFINITY,
    headersTimeoutNs,
    firstRequestTimeoutNs: o.firstRequestTimeoutNs ?? headersTimeoutNs,
    keepAliveTimeoutNs: o.keepAliveTimeoutNs ?? 5e9,
    bodyTimeoutNs: o.bodyTimeoutNs ?? 30e9,
  };
}

/** Creates a server for `handler`; feed it connections with `handleFlow`. */
export function createHttpServer(
  handler: FetchHandler,
  options: HttpServerOptions = {},
): HttpServer {
  return new Server(handler, options);
}

/** Listens on `port` of a Stack's TCP and serves `handler` on every connection. */
export function serveHttp(
  tcp: Tcp,
  port: number,
  handler: FetchHandler,
  options: HttpServerOptions & { readonly backlog?: number } = {},
): HttpListener {
  const server = new Server(handler, options, () => tcp.unlisten(port));
  tcp.listen(port, (flow) => void server.handleFlow(flow), {
    noDelay: true,
    ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
  });
  return Object.assign(server, { port });
}

class Counters {
  totalConnections = 0;
  rejectedConnections = 0;
  requests = 0;
  activeRequests = 0;
  rejectedRequests = 0;
  timeouts = 0;
  handlerErrors = 0;
  bytesRead = 0;
  bytesWritten = 0;
}

class Server implements HttpServer {
  readonly handler: FetchHandler;
  readonly options: HttpServerOptions;
  readonly settings: Settings;
  readonly counters = new Counters();
  readonly date = new HttpDate();
  readonly open = new Set<Connection>();
  closing = false;
  #unlisten: (() => void) | undefined;
  #drained: (() => void) | undefined;

  constructor(handler: FetchHandler, options: HttpServerOptions, unlisten?: () => void) {
    this.handler = handler;
    this.options = options;
    this.settings = settings(options);
    this.#unlisten = unlisten;
  }

  get connections(): number {
    return this.open.size;
  }

  get closed(): boolean {
    return this.closing;
  }

  get stats(): HttpServerStats {
    const c = this.counters;
    let bytesRead = c.bytesRead;
    let bytesWritten = c.bytesWritten;
    for (const conn of this.open) {
      bytesRead += conn.reader.bytesRead;
      bytesWritten += conn.bytesWritten;
    }
    return {
      connections: this.open.size,
      totalConnections: c.totalConnections,
      rejectedConnections: c.rejectedConnections,
      requests: c.requests,
      activeRequests: c.activeRequests,
      rejectedRequests: c.rejectedRequests,
      timeouts: c.timeouts,
      handlerErrors: c.handlerErrors,
      bytesRead,
      bytesWritten,
    };
  }

  async handleFlow(flow: Flow): Promise<void> {
    if (this.closing || this.open.size >= this.settings.maxConnections) {
      this.counters.rejectedConnections++;
      await refuse(flow, this.closing ? "server closing" : "too many connections");
      return;
    }
    const conn = new Connection(this, flow);
    this.open.add(conn);
    this.counters.totalConnections++;
    try {
      await conn.run();
    } finally {
      this.open.delete(conn);
      this.counters.bytesRead += conn.reader.bytesRead;
      this.counters.bytesWritten += conn.bytesWritten;
      if (this.open.size === 0) this.#drained?.();
    }
  }

  report(error: unknown, request: Request | undefined): void {
    try {
      this.options.onError?.(error, request);
    } catch {}
  }

  close(options: { graceNs?: number } = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      try {
        this.#unlisten?.();
      } catch {}
      this.#unlisten = undefined;
    }
    for (const conn of this.open) conn.closeIfIdle();
    if (this.open.size === 0) return Promise.resolve();
    let timer: Timer | undefined;
    const time = this.options.time;
    if (time && options.graceNs !== undefined) {
      timer = time.setTimer(options.graceNs, () => this.abort());
    }
    return new Promise<void>((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        previous?.();
        timer?.cancel();
        resolve();
      };
    });
  }

  abort(): void {
    this.closing = true;
    for (const conn of this.open) conn.abort();
  }
}

async function refuse(flow: Flow, why: string): Promise<void> {
  const body = `${reasonPhrase(503)}: ${why}\n`;
  const head = new OutBuffer()
    .text("HTTP/1.1 503 Service Unavailable\r\n")
    .field("content-type", "text/plain; charset=utf-8")
    .field("content-length", String(body.length))
    .field("connection", "close")
    .field("retry-after", "1")
    .crlf()
    .text(body);
  try {
    await flow.write(head.view());
  } catch {}
  flow.close().catch(() => {});
}

enum Phase {
  /** Between requests: nothing of the next one has arrived. */
  Idle,
  /** Reading a request head. */
  Head,
  /** Handling a request: handler, request body, response. */
  Busy,
  Done,
}

enum Continue {
  /** No Expect: 100-continue, or nothing to send it for. */
  None,
  /** Expected and not yet sent: it goes out when the handler first reads the body. */
  Pending,
  Sent,
  /** The final response went out first: the body will not be read. */
  Refused,
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const NO_BODY_METHODS = new Set(["GET", "HEAD"]);
const UNSUPPORTED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

class Connection {
  readonly reader: FlowReader;
  readonly scanner: HeadScanner;
  readonly out = new OutBuffer();
  bytesWritten = 0;
  writing = false;
  phase = Phase.Idle;
  #served = 0;
  #timer: Timer | undefined;
  /** The reason of an interrupt raised by a timer or by close(). */
  #interrupted: HttpTimeoutError | HttpClosedError | undefined;
  #abortRequest: AbortController | undefined;
  #aborted = false;

  constructor(
    readonly server: Server,
    readonly flow: Flow,
  ) {
    this.reader = new FlowReader(flow);
    this.scanner = new HeadScanner(server.settings, true);
  }

  async run(): Promise<void> {
    try {
      await this.#loop();
    } catch (error) {
      // Only a bug reaches here; the connection goes, the server stays.
      this.server.report(error, undefined);
      this.abort();
    } finally {
      this.phase = Phase.Done;
      this.#disarm();
      this.#abortRequest?.abort(new HttpClosedError("connection"));
      if (!this.#aborted) this.flow.close().catch(() => {});
    }
  }

  closeIfIdle(): void {
    if (this.phase === Phase.Idle) this.#interrupt(new HttpClosedError("server"));
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#interrupt(new HttpClosedError("connection"));
    this.#abortRequest?.abort(new HttpClosedError("connection"));
    try {
      this.flow.abort();
    } catch {}
  }

  #interrupt(reason: HttpTimeoutError | HttpClosedError): void {
    this.#interrupted ??= reason;
    this.reader.interrupt(reason);
  }

  // ---- timers -------------------------------------------------------------------------------

  #arm(ns: number, onExpire: () => void): void {
    this.#disarm();
    const time = this.server.options.time;
    if (time === undefined || !(ns > 0) || ns === Number.POSITIVE_INFINITY) return;
    this.#timer = time.setTimer(ns, onExpire);
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** While busy: a pending read or write that makes no progress for bodyTimeoutNs fails. */
  #armProgress(): void {
    const read = this.reader.bytesRead;
    const written = this.bytesWritten;
    this.#arm(this.server.settings.bodyTimeoutNs, () => {
      this.#timer = undefined;
      if (this.phase !== Phase.Busy) return;
      if (this.reader.reading && this.reader.bytesRead === read) {
        this.server.counters.timeouts++;
        this.#interrupt(new HttpTimeoutError("request body"));
      } else if (this.writing && this.bytesWritten === written) {
        this.server.counters.timeouts++;
        this.abort();
        return;
      }
      this.#armProgress();
    });
  }

  // ---- the request loop ---------------------------------------------------------------------

  async #loop(): Promise<void> {
    const s = this.server.settings;
    for (;;) {
      this.phase = Phase.Idle;
      if (this.server.closing) return;
      const first = this.#served === 0;
      this.#arm(first ? s.firstRequestTimeoutNs : s.keepAliveTimeoutNs, () => {
        this.#timer = undefined;
        this.server.counters.timeouts++;
        this.#interrupt(new HttpTimeoutError(first ? "first request" : "idle connection"));
      });
      let head: RequestHead | null;
      try {
        head = await this.#readHead();
      } catch (error) {
        // An idle kept-alive connection that times out or is closed goes quietly.
        const quiet =
          this.phase === Phase.Idle &&
          (this.#interrupted instanceof HttpClosedError ||
            (!first && this.#interrupted instanceof HttpTimeoutError));
        if (!quiet) await this.#reject(this.#interrupted ?? error);
        return;
      }
      this.#disarm();
      if (head === null) return;
      this.#served++;
      const keepAlive = await this.#exchange(head);
      if (!keepAlive || this.#aborted) return;
    }
  }

  async #readHead(): Promise<RequestHead | null> {
    const reader = this.reader;
    const scanner = this.scanner;
    scanner.reset();
    for (;;) {
      if (reader.available > 0) {
        if (this.phase === Phase.Idle) {
          this.phase = Phase.Head;
          this.#arm(this.server.settings.headersTimeoutNs, () => {
            this.#timer = undefined;
            this.server.counters.timeouts++;
            this.#interrupt(new HttpTimeoutError("request head"));
          });
        }
        const after = scanner.push(reader.chunk, reader.pos, reader.chunk.length);
        if (after >= 0) {
          reader.pos = after;
          return parseRequestHead(scanner.bytes, scanner.start, scanner.end, this.server.settings);
        }
        reader.pos = reader.chunk.length;
      }
      if (!(await reader.fill())) {
        if (this.phase === Phase.Idle || !scanner.started) return null;
        throw new HttpIncompleteMessageError("request head");
      }
    }
  }

  /** Answers bad input with its status and closes the connection. */
  async #reject(error: unknown): Promise<void> {
    if (
      !(
        error instanceof HttpParseError ||
        error instanceof HttpTimeoutError ||
        error instanceof HttpIncompleteMessageError
      ) ||
      this.#aborted
    ) {
      return; // the Flow failed: nothing to say
    }
    const status = error.status;
    if (!(error instanceof HttpTimeoutError)) this.server.counters.rejectedRequests++;
    this.#disarm();
    await this.#sendError(status, error.message);
    await this.#linger();
  }

  async #sendError(status: number, detail: string): Promise<void> {
    const body = `${reasonPhrase(status)}: ${detail}\n`;
    const out = this.out;
    out.reset();
    out.text(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    const now = this.server.options.wallClock?.now();
    if (now !== undefined) out.field("date", this.server.date.format(now));
    out
      .field("content-type", "text/plain; charset=utf-8")
      .field("content-length", String(body.length))
      .field("connection", "close")
      .crlf()
      .text(body);
    try {
      await this.#write(out.view());
    } catch {}
  }

  /**
   * Half-closes, then reads and drops what the client still sends for a
   * moment, so our last response is not destroyed by a reset before the
   * client reads it (RFC 9112 §9.6).
   */
  async #linger(): Promise<void> {
    try {
      await this.flow.shutdown();
    } catch {
      return;
    }
    if (this.server.options.time === undefined) return;
    this.#interrupted = undefined;
    this.#arm(2e9, () => this.reader.interrupt(new HttpTimeoutError("linger")));
    try {
      let dropped = 0;
      while (dropped < 64 * KiB && (await this.reader.fill())) {
        dropped += this.reader.available;
        this.reader.pos = this.reader.chunk.length;
      }
    } catch {}
    this.#disarm();
  }

  #write = async (data: Uint8Array): Promise<void> => {
    this.writing = true;
    try {
      await this.flow.write(data);
    } finally {
      this.writing = false;
    }
    this.bytesWritten += data.length;
  };

  /** One request and its response. Returns whether the connection can serve another. */
  async #exchange(head: RequestHead): Promise<boolean> {
    const server = this.server;
    const s = server.settings;
    this.phase = Phase.Busy;
    let kind: BodyKind;
    let url: string;
    try {
      kind = requestBodyKind(head);
      if (head.expectOther) {
        throw new HttpParseError("ATOLL_HTTP_EXPECTATION_FAILED", 417, "unsupported expectation");
      }
      if (kind === BodyKind.Length && head.contentLength > s.maxBodyBytes) {
        throw new HttpParseError("ATOLL_HTTP_BODY_TOO_LARGE", 413, "request body too large");
      }
      if (UNSUPPORTED_METHODS.has(head.method.toUpperCase())) {
        throw new HttpParseError("ATOLL_HTTP_NOT_IMPLEMENTED", 501, `${head.method} not supported`);
      }
      url = this.#url(head);
    } catch (error) {
      await this.#reject(error);
      return false;
    }

    let keepAlive = head.minor === 1 ? !head.connectionClose : head.connectionKeepAlive;
    if (head.connectionClose || this.#served >= s.maxRequestsPerConnection) keepAlive = false;

    const body = new IncomingBody(
      this.reader,
      kind,
      head.contentLength,
      { maxBodyBytes: s.maxBodyBytes, maxTrailerBytes: s.maxHeaderBytes },
      true,
    );
    const method = head.method;
    let cont =
      head.expectContinue && head.minor === 1 && kind !== BodyKind.None
        ? Continue.Pending
        : Continue.None;
    let finished = false;
    const stream =
      kind === BodyKind.None || NO_BODY_METHODS.has(method.toUpperCase())
        ? null
        : new ReadableStream<Uint8Array>(
            {
              pull: async (controller) => {
                if (finished || cont === Continue.Refused) {
                  controller.error(
                    new HttpResponseError("the request body was read after the response was sent"),
                  );
                  return;
                }
                try {
                  if (cont === Continue.Pending) {
                    cont = Continue.Sent;
                    await this.#write(CONTINUE);
                  }
                  const piece = await body.next();
                  if (piece === null) controller.close();
                  else controller.enqueue(piece);
                } catch (error) {
                  controller.error(this.#interrupted ?? error);
                }
              },
            },
            { highWaterMark: 0 },
          );

    const abort = new AbortController();
    this.#abortRequest = abort;
    let request: Request;
    try {
      const headers: [string, string][] = [];
      for (let i = 0; i < head.names.length; i++) headers.push([head.names[i]!, head.values[i]!]);
      request = new Request(url, {
        method,
        headers,
        body: stream,
        signal: abort.signal,
        // @ts-expect-error: duplex is in the fetch standard, not yet in the DOM typings.
        duplex: "half",
      });
    } catch (error) {
      await this.#reject(new HttpParseError("ATOLL_HTTP_BAD_REQUEST", 400, describe(error)));
      return false;
    }

    server.counters.requests++;
    server.counters.activeRequests++;
    this.#armProgress();
    let response: Response;
    try {
      try {
        const returned = await server.handler(request);
        if (!isResponse(returned)) {
          throw new HttpResponseError("the handler did not return a Response");
        }
        response = returned;
        if (response.status < 200 || response.status > 599) {
          throw new HttpResponseError(`the handler returned status ${response.status}`);
        }
      } catch (error) {
        // A request body that failed (bad chunk, too large, timeout) decides the answer.
        const failure = body.error;
        if (failure !== undefined) {
          await this.#reject(this.#interrupted ?? failure);
          return false;
        }
        server.counters.handlerErrors++;
        server.report(error, request);
        response = new Response(`${reasonPhrase(500)}\n`, {
          status: 500,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
      if (body.error !== undefined) keepAlive = false;
      if (server.closing) keepAlive = false;
      keepAlive = await this.#respond(head, response, keepAlive, request, () => {
        if (cont === Continue.Pending) {
          cont = Continue.Refused;
          return false;
        }
        return true;
      });
    } finally {
      finished = true;
      server.counters.activeRequests--;
      this.#abortRequest = undefined;
    }
    if (!keepAlive || this.#aborted) return false;
    // Whatever the handler left of the request body is read and dropped.
    if (!body.done && !(await body.drain())) return false;
    this.#disarm();
    return !server.closing;
  }

  #url(head: RequestHead): string {
    const target = head.target;
    if (head.hostCount > 1) throw badRequestError("more than one Host");
    if (head.minor === 1 && head.hostCount === 0) throw badRequestError("missing Host");
    if (target.charCodeAt(0) === 0x2f) {
      const host =
        head.host ||
        this.server.options.defaultHost ||
        `${this.flow.localAddress}:${this.flow.localPort}`;
      return `http://${host}${target}`;
    }
    // absolute-form (RFC 9112 §3.2.2): its authority wins over Host.
    const lower = target.slice(0, 8).toLowerCase();
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      try {
        return new URL(target).href;
      } catch {
        throw badRequestError("malformed absolute request target");
      }
    }
    throw badRequestError("unsupported request target form");
  }

  /**
   * Writes the status line, the handler's fields and our framing fields, then
   * the body. Returns whether the connection can be kept alive.
   */
  async #respond(
    head: RequestHead,
    response: Response,
    keepAlive: boolean,
    request: Request,
    beforeHead: () => boolean,
  ): Promise<boolean> {
    const server = this.server;
    const status = response.status;
    const headers = response.headers;
    const isHead = head.method.toUpperCase() === "HEAD";
    const bodyForbidden = status === 204 || status === 304;
    const cl = headers.get("content-length");
    const declared = cl === null || status === 204 ? -1 : parseLength(cl);
    const connection = headers.get("connection");
    if (connection !== null && hasToken(connection, "close")) keepAlive = false;

    let probed: ProbedBody | undefined;
    let framing = Framing.None;
    let length = -1;
    try {
      if (declared === -2) throw new HttpResponseError(`invalid Content-Length "${cl}"`);
      const stream = response.body;
      if (stream === null || bodyForbidden) {
        if (stream !== null) void stream.cancel().catch(() => {});
        // HEAD and 304 describe a representation they do not carry: keep a declared length.
        if (isHead || status === 304) length = declared;
        else if (status === 204) length = -1;
        else if (declared > 0) throw new HttpResponseError("Content-Length given without a body");
        else length = 0;
      } else if (declared >= 0) {
        probed = await probeBody(stream);
        length = declared;
        framing = isHead || declared === 0 ? Framing.None : Framing.Length;
        if (framing === Framing.None && probed.first !== undefined && !isHead) {
          throw new HttpResponseError("body is longer than its Content-Length (0 bytes)");
        }
      } else {
        probed = await probeBody(stream);
        if (probed.complete) {
          length = probed.first?.length ?? 0;
          framing = isHead || length === 0 ? Framing.None : Framing.Length;
        } else if (isHead) {
          framing = Framing.None;
        } else if (head.minor === 1) {
          framing = Framing.Chunked;
        } else {
          framing = Framing.Close;
          keepAlive = false;
        }
      }
    } catch (error) {
      server.counters.handlerErrors++;
      server.report(error, request);
      await this.#sendError(500, "the response could not be sent");
      return false;
    }
    // beforeHead may refuse a pending 100-continue: then this connection cannot be reused.
    if (!beforeHead()) keepAlive = false;
    if (server.closing) keepAlive = false;

    const out = this.out;
    out.reset();
    out.text(`HTTP/1.1 ${status} ${response.statusText || reasonPhrase(status)}\r\n`);
    let hasDate = false;
    for (const [name, value] of headers) {
      switch (name) {
        case "content-length":
        case "transfer-encoding":
        case "connection":
        case "keep-alive":
        case "set-cookie":
          continue;
        case "date":
          hasDate = true;
      }
      out.field(name, value);
    }
    for (const cookie of headers.getSetCookie()) out.field("set-cookie", cookie);
    const now = hasDate ? undefined : server.options.wallClock?.now();
    if (now !== undefined) out.field("date", server.date.format(now));
    if (length >= 0) out.field("content-length", String(length));
    else if (framing === Framing.Chunked) out.field("transfer-encoding", "chunked");
    if (!keepAlive) out.field("connection", "close");
    else if (head.minor === 0) out.field("connection", "keep-alive");
    out.crlf();

    try {
      await sendMessage(out, probed, framing, length, this.#write);
    } catch (error) {
      if (error instanceof HttpResponseError) {
        server.counters.handlerErrors++;
        server.report(error, request);
      }
      // The head is out: the only honest way left to signal failure is to reset.
      this.abort();
      return false;
    }
    return keepAlive;
  }
}

function badRequestError(message: string): HttpParseError {
  return new HttpParseError("ATOLL_HTTP_BAD_REQUEST", 400, message);
}

function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  const r = value as Response | null | undefined;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.status === "number" &&
    typeof r.headers?.get === "function" &&
    "body" in r
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
