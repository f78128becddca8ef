// Two Flows connected back to back in memory, with a bounded send buffer per
// direction (so writes wait: backpressure) and optional re-chunking (so
// readers see messages split anywhere); and a Tcp over such pairs. Enough of
// a network to test HTTP without a stack.

import {
  ConnectionClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  type Flow,
  type Tcp,
} from "@atoll/tcpip";

export interface PipeOptions {
  /** Bytes a direction buffers before writes wait (default 64 KiB). */
  readonly capacity?: number;
  /** Largest chunk a read returns; or a function choosing each read's size (default: what was written). */
  readonly chunk?: number | ((available: number) => number);
}

class Pipe {
  #queue: Uint8Array[] = [];
  queued = 0;
  ended = false;
  error: Error | undefined;
  #reader: { resolve: (c: Uint8Array | null) => void; reject: (e: unknown) => void } | undefined;
  #writers: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  /** Total bytes that went through. */
  transferred = 0;

  constructor(private readonly options: PipeOptions) {}

  write(data: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.reject(new ConnectionClosedError("write after shutdown"));
    if (data.length === 0) return Promise.resolve();
    this.#queue.push(data.slice());
    this.queued += data.length;
    this.#wakeReader();
    if (this.queued <= (this.options.capacity ?? 64 * 1024)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#writers.push({ resolve, reject }));
  }

  read(): Promise<Uint8Array | null> {
    if (this.error) return Promise.reject(this.error);
    const chunk = this.#take();
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.ended) return Promise.resolve(null);
    if (this.#reader) return Promise.reject(new Error("two concurrent reads"));
    return new Promise((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
  }

  end(): void {
    this.ended = true;
    this.#wakeReader();
  }

  fail(error: Error): void {
    if (this.error) return;
    this.error = error;
    this.#queue = [];
    this.queued = 0;
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.reject(error);
    for (const w of this.#writers.splice(0)) w.reject(error);
  }

  #take(): Uint8Array | undefined {
    const head = this.#queue[0];
    if (head === undefined) return undefined;
    const option = this.options.chunk;
    let n = head.length;
    if (typeof option === "number") n = Math.min(n, option);
    else if (typeof option === "function") n = Math.max(1, Math.min(n, option(head.length)));
    let out: Uint8Array;
    if (n === head.length) {
      this.#queue.shift();
      out = head;
    } else {
      out = head.slice(0, n);
      this.#queue[0] = head.subarray(n);
    }
    this.queued -= out.length;
    this.transferred += out.length;
    const capacity = this.options.capacity ?? 64 * 1024;
    while (this.#writers.length > 0 && this.queued <= capacity) this.#writers.shift()!.resolve();
    return out;
  }

  #wakeReader(): void {
    const reader = this.#reader;
    if (!reader) return;
    const chunk = this.#take();
    if (chunk !== undefined) {
      this.#reader = undefined;
      reader.resolve(chunk);
    } else if (this.ended) {
      this.#reader = undefined;
      reader.resolve(null);
    }
  }
}

export interface MemoryFlow extends Flow {
  /** The direction this side writes into. */
  readonly sending: { readonly queued: number; readonly transferred: number };
}

class PipeFlow implements MemoryFlow {
  #released = false;
  #closedResolve!: () => void;
  readonly closed: Promise<void>;
  peer!: PipeFlow;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(
    readonly inbound: Pipe,
    readonly outbound: Pipe,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.closed = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
  }

  get sending() {
    return this.outbound;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#released) return Promise.resolve(null);
    return this.inbound.read();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#released) return Promise.reject(new ConnectionClosedError());
    return this.outbound.write(data);
  }

  async shutdown(): Promise<void> {
    if (this.outbound.error) throw this.outbound.error;
    this.outbound.end();
    this.#maybeClosed();
    this.peer.#maybeClosed();
  }

  async close(): Promise<void> {
    if (!this.outbound.error) this.outbound.end();
    this.#released = true;
    this.inbound.fail(new ConnectionClosedError());
    this.#closedResolve();
    this.peer.#maybeClosed();
  }

  abort(): void {
    this.#released = true;
    this.outbound.fail(new ConnectionResetError());
    this.inbound.fail(new ConnectionResetError("connection aborted"));
    this.#closedResolve();
    this.peer.#closedResolve();
  }

  #maybeClosed(): void {
    if (this.outbound.ended && this.inbound.ended) this.#closedResolve();
  }

  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.read();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
        cancel: () => this.abort(),
      },
      { highWaterMark: 0 },
    );
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.shutdown(),
      abort: () => this.abort(),
    });
    return this.#writable;
  }

  setNoDelay(): void {}
  setKeepAlive(): void {}
}

/** Two connected Flows: what `a` writes, `b` reads, and back. */
export function flowPair(
  options: PipeOptions & { readonly aToB?: PipeOptions; readonly bToA?: PipeOptions } = {},
): [MemoryFlow, MemoryFlow] {
  const ab = new Pipe({ ...options, ...options.aToB });
  const ba = new Pipe({ ...options, ...options.bToA });
  const a = new PipeFlow(ba, ab, "10.0.0.1", 40000, "10.0.0.2", 80);
  const b = new PipeFlow(ab, ba, "10.0.0.2", 80, "10.0.0.1", 40000);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A Tcp whose connections are flow pairs: `connect` reaches whatever `listen` registered. */
export function memoryTcp(options: PipeOptions = {}): Tcp & { connects: number } {
  const listeners = new Map<number, (flow: Flow) => void>();
  const tcp = {
    connects: 0,
    listen(port: number, onFlow: (flow: Flow) => void) {
      listeners.set(port, onFlow);
    },
    unlisten(port: number) {
      listeners.delete(port);
    },
    async connect(address: string, port: number): Promise<Flow> {
      const onFlow = listeners.get(port);
      if (!onFlow) throw new ConnectionRefusedError(address, port);
      tcp.connects++;
      const [client, server] = flowPair(options);
      onFlow(server);
      return client;
    },
  };
  return tcp;
}
