// The application's handle on a connection: the Flow of signature.ts, with
// promise-based read/write (backpressure through the send buffer), half-close,
// close, abort, and Web Streams views. Promises exist per application call,
// never per segment; received bytes are handed over in one chunk per read.

import { formatIpv4 } from "@atoll/core";
import { ConnectionClosedError } from "../errors.js";
import type { Flow } from "../signature.js";
import {
  CLOSE_WAIT,
  CLOSED,
  type Connection,
  type ConnectionListener,
  ESTABLISHED,
  FIN_WAIT_2,
  TIME_WAIT,
} from "./connection.js";

/** What a flow needs from its engine. */
export interface FlowHost {
  now(): number;
  queueFlush(conn: Connection): void;
}

interface PendingRead {
  resolve(value: Uint8Array | null): void;
  reject(error: unknown): void;
}

interface PendingWrite {
  data: Uint8Array;
  offset: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Waiter {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const done: Promise<void> = Promise.resolve();

export class TcpFlow implements Flow, ConnectionListener {
  readonly #conn: Connection;
  readonly #host: FlowHost;
  #reads: PendingRead[] | undefined = undefined;
  #writes: PendingWrite[] | undefined = undefined;
  #shutdown: Waiter | undefined = undefined;
  #close: Waiter | undefined = undefined;
  #closed: Waiter | undefined = undefined;
  #readCancelled = false;
  #readable: ReadableStream<Uint8Array> | undefined = undefined;
  #writable: WritableStream<Uint8Array> | undefined = undefined;

  constructor(conn: Connection, host: FlowHost) {
    this.#conn = conn;
    this.#host = host;
    conn.flow = this;
  }

  get localAddress(): string {
    return formatIpv4(this.#conn.localAddr);
  }
  get localPort(): number {
    return this.#conn.localPort;
  }
  get remoteAddress(): string {
    return formatIpv4(this.#conn.remoteAddr);
  }
  get remotePort(): number {
    return this.#conn.remotePort;
  }

  /** The connection's state, for diagnostics ("ESTABLISHED", "TIME-WAIT", ...). */
  get state(): string {
    return this.#conn.stateName;
  }

  /** The engine's connection (diagnostics and tests). */
  get connection(): Connection {
    return this.#conn;
  }

  // ---- reading -------------------------------------------------------------------------------

  read(): Promise<Uint8Array | null> {
    const conn = this.#conn;
    if (this.#close !== undefined || this.#readCancelled)
      return Promise.reject(new ConnectionClosedError("read after close"));
    if (this.#reads === undefined || this.#reads.length === 0) {
      const chunk = conn.read();
      if (chunk !== undefined) return Promise.resolve(chunk);
      if (conn.error !== undefined) return Promise.reject(conn.error);
      if (conn.state === CLOSED) return Promise.reject(new ConnectionClosedError());
    }
    return new Promise<Uint8Array | null>((resolve, reject) => {
      (this.#reads ??= []).push({ resolve, reject });
    });
  }

  // ---- writing -------------------------------------------------------------------------------

  write(data: Uint8Array): Promise<void> {
    const conn = this.#conn;
    if (this.#shutdown !== undefined || this.#close !== undefined)
      return Promise.reject(new ConnectionClosedError("write after shutdown"));
    if (conn.error !== undefined) return Promise.reject(conn.error);
    const st = conn.state;
    if (st !== ESTABLISHED && st !== CLOSE_WAIT) return Promise.reject(new ConnectionClosedError());
    if (data.length === 0) return done;
    let offset = 0;
    if (this.#writes === undefined || this.#writes.length === 0) {
      offset = conn.write(data, 0);
      if (offset === data.length) return done;
    }
    return new Promise<void>((resolve, reject) => {
      (this.#writes ??= []).push({ data, offset, resolve, reject });
    });
  }

  /** Called by the connection when send-buffer space was freed (and when it closes). */
  pumpWrites(): void {
    const writes = this.#writes;
    const conn = this.#conn;
    if (writes !== undefined) {
      while (writes.length > 0) {
        const w = writes[0]!;
        if (conn.error !== undefined || conn.state === CLOSED || conn.finQueued) {
          const error = conn.error ?? new ConnectionClosedError();
          for (const p of writes.splice(0)) p.reject(error);
          break;
        }
        w.offset += conn.write(w.data, w.offset);
        if (w.offset < w.data.length) break;
        writes.shift();
        w.resolve();
      }
    }
    if ((this.#shutdown !== undefined || this.#close !== undefined) && this.#writesDrained())
      this.#host.queueFlush(conn);
  }

  #writesDrained(): boolean {
    return this.#writes === undefined || this.#writes.length === 0;
  }

  // ---- closing -------------------------------------------------------------------------------

  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.#shutdown = waiter();
      this.#shutdown.promise.catch(() => {});
      const conn = this.#conn;
      if (this.#writesDrained() && !conn.finQueued && conn.state !== CLOSED)
        conn.shutdown(this.#host.now());
      this.#host.queueFlush(conn);
    }
    return this.#shutdown.promise;
  }

  close(): Promise<void> {
    if (this.#close === undefined) {
      this.#close = waiter();
      const reads = this.#reads;
      if (reads !== undefined) for (const r of reads.splice(0)) r.resolve(null);
      const conn = this.#conn;
      if (this.#writesDrained() && !conn.appClosed && conn.state !== CLOSED)
        conn.close(this.#host.now());
      this.#host.queueFlush(conn);
    }
    return this.#close.promise;
  }

  abort(): void {
    this.#conn.abort(this.#host.now());
    this.deliver();
  }

  get closed(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = waiter();
      if (this.#conn.finished) this.#closed.resolve();
    }
    return this.#closed.promise;
  }

  setNoDelay(noDelay: boolean): void {
    this.#conn.setNoDelay(noDelay);
  }

  setKeepAlive(enabled: boolean, idleNs?: number): void {
    this.#conn.setKeepAlive(enabled, idleNs, this.#host.now());
  }

  /** Runs in the engine's flush microtask: settles whatever the connection's progress allows. */
  deliver(): void {
    const conn = this.#conn;
    const now = this.#host.now();
    if (this.#readCancelled) conn.discardReceived();

    const reads = this.#reads;
    if (reads !== undefined && reads.length > 0) {
      while (reads.length > 0) {
        const chunk = conn.read();
        if (chunk !== undefined) {
          reads.shift()!.resolve(chunk);
          continue;
        }
        if (conn.error !== undefined || conn.state === CLOSED) {
          const error = conn.error ?? new ConnectionClosedError();
          for (const r of reads.splice(0)) r.reject(error);
        }
        break;
      }
    }

    const drained = this.#writesDrained();
    if (this.#shutdown !== undefined && drained && !conn.finQueued && conn.state !== CLOSED)
      conn.shutdown(now);
    if (this.#close !== undefined && drained && !conn.appClosed && conn.state !== CLOSED)
      conn.close(now);
    if (!drained && (conn.error !== undefined || conn.state === CLOSED)) this.pumpWrites();

    const st = conn.state;
    const sh = this.#shutdown;
    if (sh !== undefined) {
      const finAcked = conn.finSent && conn.sndUna === conn.sndNxt;
      if (conn.error !== undefined && !finAcked) sh.reject(conn.error);
      else if (finAcked || st === CLOSED || st === TIME_WAIT || st === FIN_WAIT_2) sh.resolve();
    }
    const finished = st === CLOSED || st === TIME_WAIT;
    if (this.#close !== undefined && (finished || (conn.appClosed && st === FIN_WAIT_2)))
      this.#close.resolve();
    if (this.#closed !== undefined && finished) this.#closed.resolve();
  }

  // ---- Web Streams ---------------------------------------------------------------------------

  /** A byte stream of received data (BYOB readers supported); cancel discards further data. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      pull: async (controller) => {
        try {
          const chunk = await this.read();
          if (chunk === null) {
            controller.close();
            controller.byobRequest?.respond(0);
          } else controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: () => {
        this.#readCancelled = true;
        const reads = this.#reads;
        if (reads !== undefined) for (const r of reads.splice(0)) r.resolve(null);
        this.#conn.discardReceived();
      },
    }) as ReadableStream<Uint8Array>;
    return this.#readable;
  }

  /** Writes go through write() (so the send buffer is the backpressure); close() half-closes. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>(
      {
        write: (chunk) => this.write(chunk),
        close: () => this.shutdown(),
        abort: () => this.abort(),
      },
      { highWaterMark: 1 },
    );
    return this.#writable;
  }
}
