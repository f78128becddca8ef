// @atoll/tcpip/node: a Flow as a Node `stream.Duplex`, so node:http
// (`server.emit("connection", duplex)`, `http.request({ createConnection })`)
// and node:tls (`tls.connect({ socket: duplex })`,
// `new tls.TLSSocket(duplex, { isServer: true, ... })`) run over any Stack's TCP.

import { Duplex } from "node:stream";
import type { Flow } from "./signature.js";

export interface FlowDuplexOptions {
  /**
   * Keep the writable side open after the peer's FIN (default true, as for a
   * plain Duplex); false ends our side too, like a net.Socket.
   */
  readonly allowHalfOpen?: boolean;
}

/** A stream.Duplex over a Flow, with the net.Socket members servers look for. */
export class FlowDuplex extends Duplex {
  readonly flow: Flow;
  #reading = false;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  bytesRead = 0;

  constructor(flow: Flow, options: FlowDuplexOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? true });
    this.flow = flow;
  }

  get remoteAddress(): string {
    return this.flow.remoteAddress;
  }
  get remotePort(): number {
    return this.flow.remotePort;
  }
  get localAddress(): string {
    return this.flow.localAddress;
  }
  get localPort(): number {
    return this.flow.localPort;
  }
  get remoteFamily(): string {
    return "IPv4";
  }
  /** A Flow is connected from the start. */
  get connecting(): boolean {
    return false;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.flow.localAddress, family: "IPv4", port: this.flow.localPort };
  }

  setNoDelay(noDelay = true): this {
    this.flow.setNoDelay(noDelay);
    return this;
  }

  /** `initialDelay` in ms, as for net.Socket. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.flow.setKeepAlive(enable, initialDelay > 0 ? initialDelay * 1e6 : undefined);
    return this;
  }

  /** Emits 'timeout' after `ms` of inactivity (0 disables), as net.Socket does. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback !== undefined) this.once("timeout", callback);
    this.#touch();
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  #touch(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.emit("timeout");
      }, this.#timeoutMs);
      this.#timer.unref?.();
    }
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.flow.read().then(
      (chunk) => {
        this.#reading = false;
        this.#touch();
        if (chunk === null) {
          this.push(null);
          return;
        }
        this.bytesRead += chunk.length;
        if (this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))) this._read();
      },
      (error: unknown) => {
        this.#reading = false;
        this.destroy(error as Error);
      },
    );
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.flow.write(chunk).then(
      () => {
        this.#touch();
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    // Writes queue in order inside the flow; wait for the last one.
    let last: Promise<void> = Promise.resolve();
    for (const { chunk } of chunks) last = this.flow.write(chunk);
    last.then(
      () => {
        this.#touch();
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flow.shutdown().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (error) this.flow.abort();
    else this.flow.close().catch(() => {});
    callback(error);
  }
}

/** Wraps `flow` as a stream.Duplex. Use either the duplex or the flow, not both. */
export function toDuplex(flow: Flow, options?: FlowDuplexOptions): FlowDuplex {
  return new FlowDuplex(flow, options);
}
