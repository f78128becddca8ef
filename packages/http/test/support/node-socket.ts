// A minimal Tcp over Node's kernel sockets, for interop tests and the
// benchmark until @atoll/tcpip/socket lands: lets Node's fetch, node:http
// and curl talk to our server, and our client talk to node:http.

import net from "node:net";
import {
  ConnectionClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  type Flow,
  type Tcp,
} from "@atoll/tcpip";

class SocketFlow implements Flow {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly closed: Promise<void>;
  #queue: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #waiter: { resolve: (c: Uint8Array | null) => void; reject: (e: unknown) => void } | undefined;

  constructor(readonly socket: net.Socket) {
    this.localAddress = socket.localAddress ?? "0.0.0.0";
    this.localPort = socket.localPort ?? 0;
    this.remoteAddress = socket.remoteAddress ?? "0.0.0.0";
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => {
      const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const waiter = this.#waiter;
      if (waiter) {
        this.#waiter = undefined;
        waiter.resolve(chunk);
      } else {
        this.#queue.push(chunk);
        socket.pause();
      }
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#waiter?.resolve(null);
      this.#waiter = undefined;
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.#error =
        error.code === "ECONNRESET" || error.code === "EPIPE" ? new ConnectionResetError() : error;
      this.#waiter?.reject(this.#error);
      this.#waiter = undefined;
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      if (this.#queue.length === 0) this.socket.resume();
      return Promise.resolve(chunk);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended || this.socket.destroyed) return Promise.resolve(null);
    this.socket.resume();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.socket.destroyed || this.socket.writableEnded) {
      return Promise.reject(new ConnectionClosedError());
    }
    // Copy: the caller may reuse `data` once the promise resolves, and Node
    // may still hold it in its write queue.
    const ok = this.socket.write(Buffer.from(data));
    if (ok) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off("drain", onDrain);
        reject(this.#error ?? new ConnectionClosedError());
      };
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  async shutdown(): Promise<void> {
    this.socket.end();
  }

  async close(): Promise<void> {
    this.socket.end();
    this.socket.destroySoon();
  }

  abort(): void {
    this.socket.resetAndDestroy();
  }

  get readable(): ReadableStream<Uint8Array> {
    throw new Error("not used in these tests");
  }
  get writable(): WritableStream<Uint8Array> {
    throw new Error("not used in these tests");
  }
  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }
  setKeepAlive(): void {}
}

export interface NodeSocketTcp extends Tcp {
  /** The bound port of a listen(0, ...). */
  port(requested: number): Promise<number>;
  closeAll(): Promise<void>;
}

export function nodeSocketTcp(): NodeSocketTcp {
  const servers = new Map<number, { server: net.Server; ready: Promise<number> }>();
  return {
    listen(port, onFlow) {
      const server = net.createServer((socket) => onFlow(new SocketFlow(socket)));
      const ready = new Promise<number>((resolve) =>
        server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
      );
      servers.set(port, { server, ready });
    },
    unlisten(port) {
      servers.get(port)?.server.close();
      servers.delete(port);
    },
    port(requested) {
      return servers.get(requested)!.ready;
    },
    async closeAll() {
      for (const { server } of servers.values()) server.close();
      servers.clear();
    },
    connect(address, port) {
      return new Promise<Flow>((resolve, reject) => {
        const socket = net.connect({ host: address, port });
        socket.once("connect", () => {
          socket.off("error", onError);
          resolve(new SocketFlow(socket));
        });
        const onError = (error: NodeJS.ErrnoException) =>
          reject(error.code === "ECONNREFUSED" ? new ConnectionRefusedError(address, port) : error);
        socket.once("error", onError);
      });
    },
  };
}
