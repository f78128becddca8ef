// A Flow over a node:net Socket. Reads are pulled from a bounded queue of
// received chunks (the socket is paused above a high-water mark, so the
// kernel's window closes and the peer is pushed back); writes copy the bytes
// and resolve when Node's buffer is below its mark, else at 'drain'. Sockets
// are half-open (allowHalfOpen), so shutdown() is a FIN and reading goes on.

import type { Socket } from "node:net";
import { ConnectionClosedError } from "../errors.js";
import { flowReadable, flowWritable } from "../flow-streams.js";
import type { Flow } from "../signature.js";
import { mapSocketError } from "./errors.js";

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class SocketFlow implements Flow {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly closed: Promise<void>;

  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  /** Set once we closed or aborted: reads and writes fail with ATOLL_TCP_CLOSED. */
  #released = false;
  #reader: Waiter<Uint8Array | null> | undefined;
  readonly #writers: Array<Waiter<void>> = [];
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(socket: Socket, onClose?: () => void) {
    this.#socket = socket;
    this.localAddress = plainIpv4(socket.localAddress);
    this.localPort = socket.localPort ?? 0;
    this.remoteAddress = plainIpv4(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        this.#settleAll();
        onClose?.();
        resolve();
      });
    });
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= HIGH_WATER) socket.pause();
      this.#wakeReader();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wakeReader();
    });
    socket.on("error", (error) => {
      this.#error ??= error;
      this.#settleAll();
    });
    socket.on("drain", () => {
      for (const w of this.#writers.splice(0)) w.resolve();
    });
  }

  read(): Promise<Uint8Array | null> {
    if (this.#reader !== undefined)
      return Promise.reject(new TypeError("read() called while another read is pending"));
    const chunk = this.#next();
    if (chunk !== undefined) return Promise.resolve(chunk);
    const failure = this.#readFailure();
    if (failure !== undefined) return failure;
    return new Promise((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
  }

  write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#error !== undefined) return Promise.reject(this.#mapped());
    if (this.#released || socket.writableEnded || socket.destroyed)
      return Promise.reject(new ConnectionClosedError("the connection is shut down for writing"));
    if (data.length === 0) return Promise.resolve();
    // Copy: Node keeps a reference to buffered chunks, and the caller may reuse `data`.
    if (socket.write(Buffer.from(data))) return Promise.resolve();
    return new Promise((resolve, reject) => this.#writers.push({ resolve, reject }));
  }

  shutdown(): Promise<void> {
    const socket = this.#socket;
    if (this.#error !== undefined) return Promise.reject(this.#mapped());
    if (socket.writableFinished || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.end(() => resolve());
      socket.once("close", () => resolve());
    });
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket.destroyed) {
      this.#released = true;
      if (socket.writableFinished || this.#error !== undefined) socket.destroy();
      else socket.end(() => socket.destroy());
    }
    await this.closed;
  }

  abort(): void {
    this.#released = true;
    if (!this.#socket.destroyed) this.#socket.resetAndDestroy();
  }

  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= flowReadable(this);
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= flowWritable(this);
    return this.#writable;
  }

  setNoDelay(noDelay: boolean): void {
    this.#socket.setNoDelay(noDelay);
  }

  setKeepAlive(enabled: boolean, idleNs?: number): void {
    this.#socket.setKeepAlive(enabled, idleNs === undefined ? 0 : Math.round(idleNs / 1e6));
  }

  #next(): Uint8Array | undefined {
    if (this.#head === this.#chunks.length) return undefined;
    const chunk = this.#chunks[this.#head]!;
    this.#chunks[this.#head++] = EMPTY;
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    }
    this.#queued -= chunk.length;
    if (this.#queued <= LOW_WATER && this.#socket.isPaused() && !this.#socket.destroyed)
      this.#socket.resume();
    return chunk;
  }

  #readFailure(): Promise<null> | undefined {
    if (this.#error !== undefined) return Promise.reject(this.#mapped());
    if (this.#ended) return Promise.resolve(null);
    if (this.#released) return Promise.reject(new ConnectionClosedError());
    if (this.#socket.destroyed) return Promise.resolve(null);
    return undefined;
  }

  #wakeReader(): void {
    const reader = this.#reader;
    if (reader === undefined) return;
    const chunk = this.#next();
    if (chunk !== undefined) {
      this.#reader = undefined;
      reader.resolve(chunk);
      return;
    }
    const failure = this.#readFailure();
    if (failure !== undefined) {
      this.#reader = undefined;
      failure.then(reader.resolve, reader.reject);
    }
  }

  #settleAll(): void {
    this.#wakeReader();
    const writers = this.#writers.splice(0);
    for (const w of writers)
      w.reject(this.#error !== undefined ? this.#mapped() : new ConnectionClosedError());
  }

  #mapped() {
    return mapSocketError(this.#error, this.remoteAddress, this.remotePort);
  }
}

const EMPTY = new Uint8Array(0);

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function plainIpv4(address: string | undefined): string {
  if (address === undefined) return "0.0.0.0";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}
