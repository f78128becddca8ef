// Message heads (RFC 9112 §2-6): finding where a head ends in a byte stream
// split anywhere, then parsing it in one linear pass with table lookups.
// The framing decision (Content-Length, chunked, keep-alive) is made here,
// with the request-smuggling defenses: Transfer-Encoding together with
// Content-Length, a malformed or repeated Content-Length, a transfer coding
// other than a final chunked, obs-fold, bare CR or LF are all rejected.

import { badRequest, badResponse, HttpParseError } from "../errors.js";
import {
  CLASS,
  COLON,
  CR,
  FIELD,
  HOST,
  HTAB,
  LF,
  latin1,
  lowerLatin1,
  REASON,
  SP,
  TARGET,
  TCHAR,
} from "./chars.js";

export interface HeadLimits {
  /** The whole head: start line, fields and the final empty line. */
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  /** The start line (request line with its target), for 414. */
  readonly maxStartLineBytes: number;
}

/** How the body after a head is delimited. */
export enum BodyKind {
  None = 0,
  Length = 1,
  Chunked = 2,
  /** Responses only: the body runs until the server closes the connection. */
  UntilClose = 3,
}

export interface ParsedFields {
  /** Field names, lowercased, in order; `values[i]` belongs to `names[i]`. */
  readonly names: string[];
  readonly values: string[];
  contentLength: number;
  chunked: boolean;
  /** A Transfer-Encoding field was present (valid or not). */
  transferEncoding: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  expectContinue: boolean;
  /** An Expect other than 100-continue. */
  expectOther: boolean;
  host: string | undefined;
  hostCount: number;
}

export interface RequestHead extends ParsedFields {
  readonly method: string;
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
}

export interface ResponseHead extends ParsedFields {
  readonly status: number;
  readonly reason: string;
  readonly minor: number;
}

/**
 * Finds the end of a head in a stream of chunks. Bytes of a head that spans
 * chunks are copied into one buffer (bounded by the header limit); a head
 * that arrives within one chunk is parsed in place.
 */
export class HeadScanner {
  #buf: Uint8Array;
  #len = 0;
  #lineLen = 0;
  #lineFirst = 0;
  #sawLine = false;
  #startLineLen = -1;
  #total = 0;
  /** Set when push() finds the end: the complete head is bytes[start, end). */
  bytes: Uint8Array;
  start = 0;
  end = 0;

  constructor(
    private readonly limits: HeadLimits,
    private readonly isRequest: boolean,
  ) {
    this.#buf = new Uint8Array(Math.min(1024, limits.maxHeaderBytes));
    this.bytes = this.#buf;
  }

  /** True once some byte of a head (not a leading empty line) has arrived. */
  get started(): boolean {
    return this.#sawLine || this.#lineLen > 0;
  }

  reset(): void {
    this.#len = 0;
    this.#lineLen = 0;
    this.#lineFirst = 0;
    this.#sawLine = false;
    this.#startLineLen = -1;
    this.#total = 0;
    if (this.#buf.length > 4096) this.#buf = new Uint8Array(1024);
  }

  /**
   * Scans chunk[pos, end). Returns the offset in `chunk` just past the head
   * when it is complete (then `bytes/start/end` hold it), or -1 when every
   * byte was taken and more are needed. Throws HttpParseError at a limit.
   */
  push(chunk: Uint8Array, pos: number, end: number): number {
    let headStart = pos;
    let p = pos;
    while (p < end) {
      let i = chunk.indexOf(LF, p);
      if (i < 0 || i >= end) i = -1;
      const stop = i < 0 ? end : i;
      if (stop > p) {
        if (this.#lineLen === 0) this.#lineFirst = chunk[p]!;
        this.#lineLen += stop - p;
      }
      if (i < 0) break;
      const empty = this.#lineLen === 0 || (this.#lineLen === 1 && this.#lineFirst === CR);
      this.#total += i + 1 - p;
      p = i + 1;
      if (empty) {
        if (!this.#sawLine) {
          // RFC 9112 §2.2: ignore empty lines before the start line.
          this.#len = 0;
          headStart = p;
          this.#total = 0;
          this.#lineLen = 0;
          continue;
        }
        this.#checkLimits(true);
        return this.#complete(chunk, headStart, p);
      }
      if (!this.#sawLine) {
        this.#sawLine = true;
        this.#startLineLen = this.#lineLen + 1;
      }
      this.#lineLen = 0;
    }
    this.#total += end - p;
    this.#checkLimits(false);
    this.#append(chunk, headStart, end);
    return -1;
  }

  #checkLimits(complete: boolean): void {
    const { maxHeaderBytes, maxStartLineBytes } = this.limits;
    const startLine = this.#startLineLen >= 0 ? this.#startLineLen : complete ? 0 : this.#total;
    if (startLine > maxStartLineBytes) {
      throw this.isRequest
        ? new HttpParseError("ATOLL_HTTP_URI_TOO_LONG", 414, "request line too long")
        : badResponse("status line too long");
    }
    if (this.#total > maxHeaderBytes) {
      throw this.isRequest
        ? new HttpParseError("ATOLL_HTTP_HEADERS_TOO_LARGE", 431, "request head too large")
        : badResponse("response head too large");
    }
  }

  #complete(chunk: Uint8Array, headStart: number, after: number): number {
    if (this.#len === 0) {
      this.bytes = chunk;
      this.start = headStart;
      this.end = after;
    } else {
      this.#append(chunk, headStart, after);
      this.bytes = this.#buf;
      this.start = 0;
      this.end = this.#len;
    }
    return after;
  }

  #append(chunk: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.#len + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk.subarray(start, end), this.#len);
    this.#len += n;
  }
}

const HTTP_ = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/** Parses "HTTP/1.x" at p; returns the minor version, or throws. */
function parseVersion(bytes: Uint8Array, p: number, isRequest: boolean): number {
  for (let k = 0; k < 5; k++) {
    if (bytes[p + k] !== HTTP_[k]) {
      throw isRequest ? badRequest("malformed HTTP version") : badResponse("not an HTTP response");
    }
  }
  const major = bytes[p + 5];
  const minor = bytes[p + 7];
  if (!isDigit(major) || bytes[p + 6] !== 0x2e || !isDigit(minor)) {
    throw isRequest ? badRequest("malformed HTTP version") : badResponse("malformed HTTP version");
  }
  if (major !== 0x31 || minor! > 0x31) {
    throw isRequest
      ? new HttpParseError("ATOLL_HTTP_VERSION_NOT_SUPPORTED", 505, "HTTP version not supported")
      : badResponse("HTTP version not supported");
  }
  return minor! - 0x30;
}

function expectCrlf(bytes: Uint8Array, p: number, isRequest: boolean): void {
  if (bytes[p] !== CR || bytes[p + 1] !== LF) {
    throw isRequest ? badRequest("malformed line ending") : badResponse("malformed line ending");
  }
}

/** Parses a complete request head (as found by HeadScanner). Throws HttpParseError. */
export function parseRequestHead(
  bytes: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): RequestHead {
  let p = start;
  while (p < end && CLASS[bytes[p]!]! & TCHAR) p++;
  if (p === start || bytes[p] !== SP) throw badRequest("malformed method");
  const method = latin1(bytes, start, p);
  const targetStart = ++p;
  while (p < end && CLASS[bytes[p]!]! & TARGET) p++;
  if (p === targetStart || bytes[p] !== SP) throw badRequest("malformed request target");
  const target = latin1(bytes, targetStart, p);
  p++;
  const minor = parseVersion(bytes, p, true);
  p += 8;
  expectCrlf(bytes, p, true);
  const head = newFields() as ParsedFields & { method: string; target: string; minor: number };
  head.method = method;
  head.target = target;
  head.minor = minor;
  parseFields(bytes, p + 2, end, limits, head, true);
  return head;
}

/** Parses a complete response head. Throws HttpParseError (status 502). */
export function parseResponseHead(
  bytes: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): ResponseHead {
  let p = start;
  const minor = parseVersion(bytes, p, false);
  p += 8;
  if (bytes[p] !== SP) throw badResponse("malformed status line");
  const d0 = bytes[p + 1];
  const d1 = bytes[p + 2];
  const d2 = bytes[p + 3];
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2)) throw badResponse("malformed status code");
  const status = (d0! - 0x30) * 100 + (d1! - 0x30) * 10 + (d2! - 0x30);
  if (status < 100) throw badResponse("malformed status code");
  p += 4;
  let reason = "";
  if (bytes[p] === SP) {
    const reasonStart = ++p;
    while (p < end && CLASS[bytes[p]!]! & REASON) p++;
    reason = latin1(bytes, reasonStart, p);
  }
  expectCrlf(bytes, p, false);
  const head = newFields() as ParsedFields & { status: number; reason: string; minor: number };
  head.status = status;
  head.reason = reason;
  head.minor = minor;
  parseFields(bytes, p + 2, end, limits, head, false);
  return head;
}

function newFields(): ParsedFields {
  return {
    names: [],
    values: [],
    contentLength: -1,
    chunked: false,
    transferEncoding: false,
    connectionClose: false,
    connectionKeepAlive: false,
    expectContinue: false,
    expectOther: false,
    host: undefined,
    hostCount: 0,
  };
}

function parseFields(
  bytes: Uint8Array,
  p: number,
  end: number,
  limits: HeadLimits,
  head: ParsedFields,
  isRequest: boolean,
): void {
  const bad = isRequest ? badRequest : badResponse;
  for (;;) {
    if (p >= end) throw bad("head ends without an empty line");
    const first = bytes[p]!;
    if (first === CR) {
      expectCrlf(bytes, p, isRequest);
      if (p + 2 !== end) throw bad("bytes after the end of the head");
      return;
    }
    if (first === SP || first === HTAB) throw bad("obsolete line folding is not accepted");
    const nameStart = p;
    while (p < end && CLASS[bytes[p]!]! & TCHAR) p++;
    if (p === nameStart || bytes[p] !== COLON) throw bad("malformed header field name");
    const nameEnd = p++;
    while (bytes[p] === SP || bytes[p] === HTAB) p++;
    const valueStart = p;
    while (p < end && CLASS[bytes[p]!]! & FIELD) p++;
    let valueEnd = p;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    expectCrlf(bytes, p, isRequest);
    p += 2;
    if (head.names.length >= limits.maxHeaderCount) {
      throw isRequest
        ? new HttpParseError("ATOLL_HTTP_HEADERS_TOO_LARGE", 431, "too many header fields")
        : badResponse("too many header fields");
    }
    const name = lowerLatin1(bytes, nameStart, nameEnd);
    const value = latin1(bytes, valueStart, valueEnd);
    head.names.push(name);
    head.values.push(value);
    switch (name) {
      case "content-length":
        contentLength(head, bytes, valueStart, valueEnd, isRequest);
        break;
      case "transfer-encoding":
        transferEncoding(head, value, isRequest);
        break;
      case "connection":
        forEachToken(value, (token) => {
          if (token === "close") head.connectionClose = true;
          else if (token === "keep-alive") head.connectionKeepAlive = true;
        });
        break;
      case "expect":
        if (value.toLowerCase() === "100-continue") head.expectContinue = true;
        else head.expectOther = true;
        break;
      case "host":
        head.hostCount++;
        for (let i = valueStart; i < valueEnd; i++) {
          if (!(CLASS[bytes[i]!]! & HOST)) throw bad("malformed Host");
        }
        head.host = value;
        break;
    }
  }
}

// At most 15 digits: exact in a double and far beyond any body limit.
const MAX_LENGTH_DIGITS = 15;

function contentLength(
  head: ParsedFields,
  bytes: Uint8Array,
  start: number,
  end: number,
  isRequest: boolean,
): void {
  const bad = isRequest ? badRequest : badResponse;
  if (end === start || end - start > MAX_LENGTH_DIGITS) throw bad("invalid Content-Length");
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x30 || b > 0x39) throw bad("invalid Content-Length");
    n = n * 10 + (b - 0x30);
  }
  // A repeated Content-Length is a smuggling vector: requests must carry one.
  // Responses may repeat the same value (RFC 9110 §8.6).
  if (head.contentLength >= 0 && (isRequest || head.contentLength !== n)) {
    throw bad("repeated Content-Length");
  }
  head.contentLength = n;
}

function transferEncoding(head: ParsedFields, value: string, isRequest: boolean): void {
  head.transferEncoding = true;
  forEachToken(value, (coding) => {
    if (head.chunked) {
      // chunked must be the final coding, applied once (RFC 9112 §6.1).
      throw (isRequest ? badRequest : badResponse)("chunked is not the final transfer coding");
    }
    if (coding === "chunked") head.chunked = true;
    else if (isRequest) {
      throw new HttpParseError(
        "ATOLL_HTTP_NOT_IMPLEMENTED",
        501,
        "transfer codings other than chunked are not implemented",
      );
    }
  });
}

/** True when the comma list `value` holds `token` (lowercase), case-insensitively. */
export function hasToken(value: string, token: string): boolean {
  let found = false;
  forEachToken(value, (t) => {
    if (t === token) found = true;
  });
  return found;
}

/** A Content-Length value: 1 to 15 digits, or -2 when malformed. */
export function parseLength(value: string): number {
  if (value.length === 0 || value.length > MAX_LENGTH_DIGITS) return -2;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -2;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** Calls `each` with every lowercased, trimmed, non-empty element of a comma list. */
function forEachToken(value: string, each: (token: string) => void): void {
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c) {
      const token = value.slice(start, i).trim();
      if (token.length > 0) each(token.toLowerCase());
      start = i + 1;
    }
  }
}

/** Request framing (RFC 9112 §6.3): how the body after this head is delimited. */
export function requestBodyKind(head: RequestHead): BodyKind {
  if (head.transferEncoding) {
    if (head.contentLength >= 0) {
      throw badRequest("both Transfer-Encoding and Content-Length");
    }
    if (head.minor === 0) throw badRequest("Transfer-Encoding in an HTTP/1.0 request");
    if (!head.chunked) throw badRequest("chunked is not the final transfer coding");
    return BodyKind.Chunked;
  }
  if (head.contentLength > 0) return BodyKind.Length;
  return BodyKind.None;
}

/** Response framing (RFC 9112 §6.3) given the request method. */
export function responseBodyKind(head: ResponseHead, requestMethod: string): BodyKind {
  if (requestMethod === "HEAD" || head.status < 200 || head.status === 204 || head.status === 304) {
    return BodyKind.None;
  }
  if (head.transferEncoding) return head.chunked ? BodyKind.Chunked : BodyKind.UntilClose;
  if (head.contentLength >= 0) return head.contentLength > 0 ? BodyKind.Length : BodyKind.None;
  return BodyKind.UntilClose;
}
