// Reading a Flow as a cursor over its current chunk, and decoding a message
// body from it on demand: bytes are read from the Flow only when the body's
// consumer asks for them, so a slow consumer is TCP backpressure, not memory.

import type { Flow } from "@atoll/tcpip";
import { badRequest, HttpIncompleteMessageError, HttpParseError } from "./errors.js";
import { ChunkedDecoder, type ChunkedLimits } from "./wire/chunked.js";
import { BodyKind } from "./wire/head.js";

const EMPTY = new Uint8Array(0);

export class FlowReader {
  /** The current chunk; bytes before `pos` are consumed. */
  chunk: Uint8Array = EMPTY;
  pos = 0;
  /** Bytes received so far (progress, for timeouts). */
  bytesRead = 0;
  /** True while waiting for the Flow. */
  reading = false;
  #eof = false;
  #pending: Promise<Uint8Array | null> | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(readonly flow: Flow) {}

  get available(): number {
    return this.chunk.length - this.pos;
  }

  get eof(): boolean {
    return this.#eof;
  }

  /**
   * Replaces the consumed chunk with the next one from the Flow. Resolves
   * false at end of stream; rejects with the Flow's error or an interrupt.
   */
  async fill(): Promise<boolean> {
    for (;;) {
      if (this.#eof) return false;
      this.#pending ??= this.flow.read();
      const pending = this.#pending;
      this.reading = true;
      let chunk: Uint8Array | null;
      try {
        chunk = await new Promise<Uint8Array | null>((resolve, reject) => {
          this.#reject = reject;
          pending.then(resolve, reject);
        });
      } finally {
        this.reading = false;
        this.#reject = undefined;
      }
      this.#pending = undefined;
      if (chunk === null) {
        this.#eof = true;
        this.chunk = EMPTY;
        this.pos = 0;
        return false;
      }
      if (chunk.length === 0) continue;
      this.chunk = chunk;
      this.pos = 0;
      this.bytesRead += chunk.length;
      return true;
    }
  }

  /** Makes a fill() in progress reject with `error` (a timeout, a shutdown). */
  interrupt(error: unknown): void {
    this.#reject?.(error);
  }

  /**
   * Starts reading ahead while the connection is idle, so the caller learns
   * when the peer closes it or sends something unexpected. The next fill()
   * takes over the same read.
   */
  watch(): Promise<Uint8Array | null> {
    if (this.#eof) return Promise.resolve(null);
    this.#pending ??= this.flow.read();
    return this.#pending;
  }
}

/** A message body decoded from a FlowReader, one piece at a time. */
export class IncomingBody {
  #done: boolean;
  #remaining: number;
  readonly #decoder: ChunkedDecoder | undefined;
  #inflight: Promise<Uint8Array | null> | undefined;
  /** Set when the body failed (bad framing, timeout, reset). */
  error: unknown;

  constructor(
    private readonly reader: FlowReader,
    readonly kind: BodyKind,
    length: number,
    limits: ChunkedLimits,
    private readonly isRequest: boolean,
  ) {
    this.#done = kind === BodyKind.None;
    this.#remaining = kind === BodyKind.Length ? length : 0;
    this.#decoder = kind === BodyKind.Chunked ? new ChunkedDecoder(limits, isRequest) : undefined;
  }

  get done(): boolean {
    return this.#done;
  }

  /** The next piece of the body (a view into the received chunk), or null at its end. */
  next(): Promise<Uint8Array | null> {
    if (this.#inflight !== undefined) {
      return this.#inflight.then(
        () => this.next(),
        () => this.next(),
      );
    }
    const p = this.#next();
    this.#inflight = p;
    const clear = () => {
      if (this.#inflight === p) this.#inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Waits for a piece being read, so another reader can take over. */
  async settle(): Promise<void> {
    try {
      await this.#inflight;
    } catch {}
  }

  async #next(): Promise<Uint8Array | null> {
    if (this.error !== undefined) throw this.error;
    try {
      return await this.#decode();
    } catch (error) {
      this.error = error;
      throw error;
    }
  }

  async #decode(): Promise<Uint8Array | null> {
    const reader = this.reader;
    for (;;) {
      if (this.#done) return null;
      if (reader.available === 0 && !(await reader.fill())) {
        if (this.kind === BodyKind.UntilClose) {
          this.#done = true;
          return null;
        }
        throw new HttpIncompleteMessageError(this.isRequest ? "request body" : "response body");
      }
      const chunk = reader.chunk;
      const pos = reader.pos;
      switch (this.kind) {
        case BodyKind.Length: {
          const n = Math.min(this.#remaining, chunk.length - pos);
          reader.pos = pos + n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#done = true;
          return chunk.subarray(pos, pos + n);
        }
        case BodyKind.UntilClose:
          reader.pos = chunk.length;
          return chunk.subarray(pos);
        case BodyKind.Chunked: {
          const decoder = this.#decoder!;
          reader.pos = decoder.decode(chunk, pos, chunk.length);
          if (decoder.dataEnd > decoder.dataStart) {
            return chunk.subarray(decoder.dataStart, decoder.dataEnd);
          }
          if (decoder.done) {
            this.#done = true;
            return null;
          }
          break;
        }
        default:
          throw badRequest("no body");
      }
    }
  }

  /** Reads and discards the rest of the body; false when it could not be (error). */
  async drain(): Promise<boolean> {
    try {
      await this.settle();
      while ((await this.next()) !== null) {}
      return true;
    } catch {
      return false;
    }
  }
}

export function isProtocolError(error: unknown): error is HttpParseError {
  return error instanceof HttpParseError;
}
