// The tar wire format: 512-byte headers (POSIX ustar, GNU and v7 dialects),
// pax extended records (POSIX.1-2001) and GNU long names, read and written
// through views over the header bytes.

import { CorruptStoreError } from "../errors.js";

export const BLOCK = 512;
const decoder = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();

export type Dialect = "ustar" | "gnu" | "v7";

/** A parsed header block. */
export interface Header {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname: string;
  readonly dialect: Dialect;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function text(block: Uint8Array, at: number, length: number): string {
  let end = at;
  while (end < at + length && block[end] !== 0) end++;
  return decoder.decode(block.subarray(at, end));
}

/**
 * A numeric field: octal digits (with leading spaces, ending at a space or
 * NUL), or GNU's base-256 (high bit of the first byte set). Undefined when malformed.
 */
export function readNumber(block: Uint8Array, at: number, length: number): number | undefined {
  const first = block[at]!;
  if (first & 0x80) {
    if (first === 0xff) return undefined; // negative
    let n = first & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + block[at + i]!;
    return Number.isSafeInteger(n) ? n : undefined;
  }
  let i = at;
  const end = at + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) {
    if (block[i] === 0 && i === at) return 0; // an empty field
    i++;
  }
  let n = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return undefined;
    n = n * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (block[i] !== 0x20 && block[i] !== 0) return undefined;
  return digits === 0 ? 0 : n;
}

function checksums(block: Uint8Array): [unsigned: number, signed: number] {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return [unsigned, signed];
}

export function hasTarMagic(block: Uint8Array): boolean {
  return text(block, 257, 6).startsWith("ustar");
}

/**
 * Parses a header block at `offset` (used in errors). Throws CorruptStoreError
 * on a bad checksum or a malformed field.
 */
export function parseHeader(block: Uint8Array, offset: number): Header {
  const recorded = readNumber(block, 148, 8);
  const [unsigned, signed] = checksums(block);
  if (recorded === undefined || (recorded !== unsigned && recorded !== signed)) {
    throw new CorruptStoreError("tar header checksum mismatch", offset);
  }
  const magic = block.subarray(257, 263);
  const dialect: Dialect =
    magic[0] === 0x75 && text(block, 257, 6) === "ustar" && magic[5] === 0
      ? "ustar"
      : text(block, 257, 8) === "ustar  " || text(block, 257, 6) === "ustar "
        ? "gnu"
        : "v7";
  const size = readNumber(block, 124, 12);
  const mtime = readNumber(block, 136, 12);
  const mode = readNumber(block, 100, 8);
  if (size === undefined || mtime === undefined || mode === undefined) {
    throw new CorruptStoreError("malformed numeric field in tar header", offset);
  }
  let name = text(block, 0, 100);
  if (dialect === "ustar") {
    const prefix = text(block, 345, 155);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  const flag = block[156]!;
  return {
    name,
    mode,
    size,
    mtime,
    typeflag: flag === 0 ? "0" : String.fromCharCode(flag),
    linkname: text(block, 157, 100),
    dialect,
  };
}

function writeText(block: Uint8Array, at: number, length: number, value: Uint8Array): void {
  block.set(value.subarray(0, length), at);
}

function writeOctal(block: Uint8Array, at: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, "0");
  if (digits.length > length - 1)
    throw new RangeError(`${value} does not fit a ${length}-byte field`);
  block.set(encoder.encode(`${digits}\0`), at);
}

/** The most a ustar size field holds (11 octal digits). */
export const USTAR_MAX_SIZE = 0o77777777777;

export interface NewHeader {
  /** UTF-8 bytes of the name; must fit `splitName`. */
  readonly name: Uint8Array;
  readonly prefix?: Uint8Array;
  readonly size: number;
  readonly mtime: number;
  /** "0" regular file, "5" directory, "x" pax header, "g" global pax header. */
  readonly typeflag: string;
  readonly mode?: number;
}

/** A POSIX ustar header block. */
export function formatHeader(h: NewHeader): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeText(block, 0, 100, h.name);
  writeOctal(block, 100, 8, h.mode ?? (h.typeflag === "5" ? 0o755 : 0o644));
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, Math.min(h.size, USTAR_MAX_SIZE));
  writeOctal(block, 136, 12, Math.max(0, Math.min(Math.floor(h.mtime), USTAR_MAX_SIZE)));
  block[156] = h.typeflag.charCodeAt(0);
  block.set(encoder.encode("ustar\0"), 257);
  block.set(encoder.encode("00"), 263);
  if (h.prefix !== undefined) writeText(block, 345, 155, h.prefix);
  block.fill(0x20, 148, 156);
  const [sum] = checksums(block);
  block.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
  return block;
}

/**
 * Splits a UTF-8 path into ustar's prefix (≤ 155 bytes) and name (≤ 100
 * bytes) at a "/"; undefined when it cannot be split.
 */
export function splitName(path: Uint8Array): { prefix?: Uint8Array; name: Uint8Array } | undefined {
  if (path.length <= 100) return { name: path };
  for (let i = Math.min(path.length - 1, 155); i > 0; i--) {
    if (path[i] === 0x2f && path.length - i - 1 <= 100 && path.length - i - 1 > 0) {
      return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
    }
  }
  return undefined;
}

/** Parses pax extended header records ("LEN key=value\n"). Throws CorruptStoreError. */
export function parsePax(data: Uint8Array, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // NUL padding after the last record
    let len = 0;
    let i = at;
    while (i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39 && i - at < 12) {
      len = len * 10 + (data[i]! - 0x30);
      i++;
    }
    if (i === at || data[i] !== 0x20 || len < i - at + 3 || at + len > data.length) {
      throw new CorruptStoreError("malformed pax extended header record", offset + at);
    }
    const end = at + len;
    if (data[end - 1] !== 0x0a) {
      throw new CorruptStoreError("pax record does not end with a newline", offset + at);
    }
    const record = data.subarray(i + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new CorruptStoreError("pax record without a keyword", offset + at);
    out.set(decoder.decode(record.subarray(0, eq)), decoder.decode(record.subarray(eq + 1)));
    at = end;
  }
  return out;
}

/** Encodes pax records; each length counts its own digits. */
export function formatPax(records: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of records) {
    const body = encoder.encode(` ${key}=${value}\n`);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(encoder.encode(String(len)), body);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whole 512-byte blocks needed for `size` bytes. */
export function blocksFor(size: number): number {
  return Math.ceil(size / BLOCK);
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
