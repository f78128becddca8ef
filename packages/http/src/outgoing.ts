// Writing messages: heads encoded straight into a reusable buffer, and
// bodies framed by Content-Length or chunked, one chunk at a time and each
// write awaited, so a peer that reads slowly holds back the body's producer
// instead of filling memory.

import { HttpResponseError } from "./errors.js";
import { writeLatin1 } from "./wire/chars.js";

const CRLF = new Uint8Array([0x0d, 0x0a]);
const LAST_CHUNK = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);
/** Bodies up to this size are copied next to their head or chunk framing: one write instead of three. */
const COALESCE_BYTES = 16 * 1024;

export type Write = (data: Uint8Array) => Promise<void>;

/** A growable byte buffer for heads and coalesced writes; reusable once a write of it resolved. */
export class OutBuffer {
  bytes = new Uint8Array(2048);
  length = 0;

  reset(): void {
    this.length = 0;
    if (this.bytes.length > 64 * 1024) this.bytes = new Uint8Array(2048);
  }

  #reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  text(s: string): this {
    this.#reserve(s.length);
    this.length = writeLatin1(s, this.bytes, this.length);
    return this;
  }

  /** "name: value\r\n" */
  field(name: string, value: string): this {
    this.#reserve(name.length + value.length + 4);
    let p = writeLatin1(name, this.bytes, this.length);
    this.bytes[p++] = 0x3a;
    this.bytes[p++] = 0x20;
    p = writeLatin1(value, this.bytes, p);
    this.bytes[p++] = 0x0d;
    this.bytes[p++] = 0x0a;
    this.length = p;
    return this;
  }

  crlf(): this {
    return this.raw(CRLF);
  }

  raw(data: Uint8Array): this {
    this.#reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
    return this;
  }

  chunkHeader(size: number): this {
    return this.text(size.toString(16)).crlf();
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** How an outgoing body is delimited. */
export enum Framing {
  /** No body bytes are sent (HEAD, 204, 304, or an empty body). */
  None = 0,
  Length = 1,
  Chunked = 2,
  /** Until the connection closes (an HTTP/1.0 peer and a body of unknown length). */
  Close = 3,
}

/**
 * A body's first chunk and whether that was all of it: lets a sender give a
 * Content-Length to bodies that are already complete (strings, bytes, blobs)
 * without waiting on bodies that stream.
 */
export interface ProbedBody {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The first chunk, or undefined for an empty body. */
  readonly first: Uint8Array | undefined;
  /** True when `first` is the whole body. */
  readonly complete: boolean;
  /** The read after `first`, when the body is not known to be complete. */
  readonly next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
}

// A body created from bytes or a string ends within two microtasks of its
// first chunk on the engines we run on; allow a few more.
const PROMPT_TICKS = 4;

export async function probeBody(stream: ReadableStream<Uint8Array>): Promise<ProbedBody> {
  const reader = stream.getReader();
  const first = await reader.read();
  if (first.done) return { reader, first: undefined, complete: true, next: undefined };
  const value = checkChunk(first.value);
  let settled = false;
  let done = false;
  const next = reader.read();
  next.then(
    (r) => {
      settled = true;
      done = r.done;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < PROMPT_TICKS && !settled; i++) await undefined;
  if (settled && done) return { reader, first: value, complete: true, next: undefined };
  return { reader, first: value, complete: false, next };
}

function checkChunk(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new HttpResponseError("a body stream produced a chunk that is not a Uint8Array");
}

/**
 * Sends `head` followed by a probed body in the given framing. A body
 * shorter or longer than its Content-Length is an HttpResponseError after
 * which the connection cannot be reused. Returns the body bytes sent.
 */
export async function sendMessage(
  head: OutBuffer,
  body: ProbedBody | undefined,
  framing: Framing,
  contentLength: number,
  write: Write,
): Promise<number> {
  if (body === undefined || framing === Framing.None) {
    await write(head.view());
    if (body !== undefined) void body.reader.cancel().catch(() => {});
    return 0;
  }
  const { reader } = body;
  let sent = 0;
  try {
    let chunk = body.first;
    let next = body.next;
    let first = true;
    for (;;) {
      if (chunk !== undefined && chunk.length > 0) {
        sent += chunk.length;
        if (framing === Framing.Length && sent > contentLength) {
          throw new HttpResponseError(
            `body is longer than its Content-Length (${contentLength} bytes)`,
          );
        }
        await writeChunk(head, first, chunk, framing, write);
        first = false;
      } else if (first && !body.complete) {
        // A stream that starts empty: send the head now rather than wait for its first bytes.
        await write(head.view());
        first = false;
      }
      if (body.complete) break;
      const result = await (next ?? reader.read());
      next = undefined;
      if (result.done) break;
      chunk = checkChunk(result.value);
    }
    if (framing === Framing.Length && sent !== contentLength) {
      throw new HttpResponseError(
        `body ended after ${sent} of its Content-Length of ${contentLength} bytes`,
      );
    }
    if (first) {
      if (framing === Framing.Chunked) head.raw(LAST_CHUNK);
      await write(head.view());
    } else if (framing === Framing.Chunked) {
      await write(LAST_CHUNK);
    }
    return sent;
  } catch (error) {
    void reader.cancel(error).catch(() => {});
    throw error;
  }
}

async function writeChunk(
  out: OutBuffer,
  withHead: boolean,
  chunk: Uint8Array,
  framing: Framing,
  write: Write,
): Promise<void> {
  if (!withHead) out.reset();
  const chunked = framing === Framing.Chunked;
  if (chunked) out.chunkHeader(chunk.length);
  if (chunk.length <= COALESCE_BYTES) {
    out.raw(chunk);
    if (chunked) out.crlf();
    await write(out.view());
    return;
  }
  if (out.length > 0) await write(out.view());
  await write(chunk);
  if (chunked) await write(CRLF);
}
