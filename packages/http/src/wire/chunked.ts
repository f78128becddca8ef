// The chunked transfer coding (RFC 9112 §7.1) as a byte-at-a-time state
// machine that also jumps over chunk data: resumable at any split, no
// allocation, strict about sizes, line endings and extensions.

import { badRequest, badResponse, HttpParseError } from "../errors.js";
import { CLASS, CR, FIELD, HEX, HTAB, hexValue, LF, SEMICOLON, SP } from "./chars.js";

enum State {
  SizeStart,
  Size,
  SizeSpace,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  FinalLf,
  Done,
}

/** A chunk size line (size and extensions) longer than this is rejected. */
const MAX_SIZE_LINE = 4096;
/** 2^48: sizes above are rejected before they can lose precision. */
const MAX_CHUNK_SIZE = 2 ** 48;

export interface ChunkedLimits {
  /** Total decoded bytes allowed (413 beyond). */
  readonly maxBodyBytes: number;
  /** Trailer section bytes allowed. */
  readonly maxTrailerBytes: number;
}

export class ChunkedDecoder {
  #state = State.SizeStart;
  #size = 0;
  #remaining = 0;
  #line = 0;
  #trailer = 0;
  #total = 0;
  /** After decode(): chunk data found is buf[dataStart, dataEnd) (empty when dataStart === dataEnd). */
  dataStart = 0;
  dataEnd = 0;

  constructor(
    private readonly limits: ChunkedLimits,
    private readonly isRequest: boolean,
  ) {}

  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Decoded body bytes so far. */
  get total(): number {
    return this.#total;
  }

  #bad(message: string): HttpParseError {
    return this.isRequest ? badRequest(message) : badResponse(message);
  }

  /**
   * Consumes buf[pos, end) up to and including the next piece of chunk data
   * (then dataStart < dataEnd) or the end of the body (then `done`). Returns
   * the offset of the first byte not consumed.
   */
  decode(buf: Uint8Array, pos: number, end: number): number {
    this.dataStart = this.dataEnd = pos;
    let p = pos;
    while (p < end) {
      switch (this.#state) {
        case State.Data: {
          const n = Math.min(this.#remaining, end - p);
          this.#remaining -= n;
          this.dataStart = p;
          this.dataEnd = p + n;
          if (this.#remaining === 0) this.#state = State.DataCr;
          return p + n;
        }
        case State.SizeStart: {
          const b = buf[p++]!;
          if (!(CLASS[b]! & HEX)) throw this.#bad("malformed chunk size");
          this.#size = hexValue(b);
          this.#line = 1;
          this.#state = State.Size;
          break;
        }
        case State.Size: {
          const b = buf[p++]!;
          if (++this.#line > MAX_SIZE_LINE) throw this.#bad("chunk size line too long");
          if (CLASS[b]! & HEX) {
            this.#size = this.#size * 16 + hexValue(b);
            if (this.#size > MAX_CHUNK_SIZE) throw this.#tooLarge();
          } else if (b === CR) this.#state = State.SizeLf;
          else if (b === SEMICOLON) this.#state = State.Extension;
          else if (b === SP || b === HTAB) this.#state = State.SizeSpace;
          else throw this.#bad("malformed chunk size");
          break;
        }
        case State.SizeSpace: {
          const b = buf[p++]!;
          if (++this.#line > MAX_SIZE_LINE) throw this.#bad("chunk size line too long");
          if (b === SEMICOLON) this.#state = State.Extension;
          else if (b !== SP && b !== HTAB) throw this.#bad("malformed chunk size");
          break;
        }
        case State.Extension: {
          // Extensions are ignored, but only well-formed bytes pass: no CTL,
          // and a CR only as part of the CRLF that ends the line.
          const b = buf[p++]!;
          if (++this.#line > MAX_SIZE_LINE) throw this.#bad("chunk extension too long");
          if (b === CR) this.#state = State.SizeLf;
          else if (!(CLASS[b]! & FIELD)) throw this.#bad("malformed chunk extension");
          break;
        }
        case State.SizeLf: {
          if (buf[p++] !== LF) throw this.#bad("malformed chunk size line ending");
          if (this.#size === 0) {
            this.#state = State.TrailerStart;
          } else {
            if (this.#total + this.#size > this.limits.maxBodyBytes) throw this.#tooLarge();
            this.#total += this.#size;
            this.#remaining = this.#size;
            this.#state = State.Data;
          }
          break;
        }
        case State.DataCr:
          if (buf[p++] !== CR) throw this.#bad("chunk data longer than its size");
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[p++] !== LF) throw this.#bad("malformed chunk data line ending");
          this.#state = State.SizeStart;
          break;
        case State.TrailerStart: {
          const b = buf[p++]!;
          if (b === CR) {
            this.#state = State.FinalLf;
            break;
          }
          if (b === SP || b === HTAB || !(CLASS[b]! & FIELD)) throw this.#bad("malformed trailer");
          this.#countTrailer();
          this.#state = State.Trailer;
          break;
        }
        case State.Trailer: {
          const b = buf[p++]!;
          this.#countTrailer();
          if (b === CR) this.#state = State.TrailerLf;
          else if (!(CLASS[b]! & FIELD)) throw this.#bad("malformed trailer");
          break;
        }
        case State.TrailerLf:
          if (buf[p++] !== LF) throw this.#bad("malformed trailer line ending");
          this.#countTrailer();
          this.#state = State.TrailerStart;
          break;
        case State.FinalLf:
          if (buf[p++] !== LF) throw this.#bad("malformed end of chunked body");
          this.#state = State.Done;
          return p;
        case State.Done:
          return p;
      }
    }
    return p;
  }

  #countTrailer(): void {
    if (++this.#trailer > this.limits.maxTrailerBytes) {
      throw this.isRequest
        ? new HttpParseError("ATOLL_HTTP_HEADERS_TOO_LARGE", 431, "trailer section too large")
        : badResponse("trailer section too large");
    }
  }

  #tooLarge(): HttpParseError {
    return this.isRequest
      ? new HttpParseError("ATOLL_HTTP_BODY_TOO_LARGE", 413, "request body too large")
      : badResponse("response body too large");
  }
}
