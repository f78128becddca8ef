// The TCP segment format (RFC 9293 §3.1): a view over a Uint8Array with field
// accessors at fixed offsets, options parsed into a reused TcpOptions record,
// header and options emitted in place, and the checksum over the IPv4
// pseudo-header. No state, no allocation per segment.

import { finishChecksum, pseudoHeaderSum, sumWords } from "../wire/checksum.js";

export const TCP_PROTOCOL = 6;
export const TCP_HEADER_LENGTH = 20;
/** The largest header: data offset 15 words. */
export const TCP_MAX_HEADER_LENGTH = 60;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMP = 8;

/** Bytes of the timestamp option as we lay it out (NOP, NOP, kind, length, TSval, TSecr). */
export const TIMESTAMP_OPTION_LENGTH = 12;
/** RFC 7323 §2.3: the largest shift count. */
export const MAX_WINDOW_SHIFT = 14;
/** SACK blocks that fit in the option space next to a timestamp (RFC 2018 §3). */
export const MAX_SACK_BLOCKS = 4;

// ---- field accessors (o = offset of the TCP header in b) -----------------------------------

export const srcPort = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const dstPort = (b: Uint8Array, o: number): number => (b[o + 2]! << 8) | b[o + 3]!;
export const seqNumber = (b: Uint8Array, o: number): number =>
  ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
export const ackNumber = (b: Uint8Array, o: number): number =>
  ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
/** Header length in bytes (data offset × 4). */
export const headerLength = (b: Uint8Array, o: number): number => (b[o + 12]! >> 4) << 2;
export const flags = (b: Uint8Array, o: number): number => b[o + 13]!;
export const windowField = (b: Uint8Array, o: number): number => (b[o + 14]! << 8) | b[o + 15]!;
export const checksumField = (b: Uint8Array, o: number): number => (b[o + 16]! << 8) | b[o + 17]!;
export const urgentPointer = (b: Uint8Array, o: number): number => (b[o + 18]! << 8) | b[o + 19]!;

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

const readU32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * Checks that `length` bytes at `offset` can hold a TCP header: at least 20
 * bytes and a data offset between 5 words and the segment length. Returns the
 * header length, or -1.
 */
export function checkHeader(b: Uint8Array, offset: number, length: number): number {
  if (length < TCP_HEADER_LENGTH || offset + length > b.length) return -1;
  const h = headerLength(b, offset);
  if (h < TCP_HEADER_LENGTH || h > length) return -1;
  return h;
}

// ---- options -------------------------------------------------------------------------------

/** Options of one segment. One instance is reused for every parse: copy what must be kept. */
export class TcpOptions {
  /** MSS option value, or -1 when absent. */
  mss = -1;
  /** Window scale shift (clamped to 14, RFC 7323 §2.3), or -1 when absent. */
  wscale = -1;
  sackPermitted = false;
  timestamp = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks (left, right) in sackBlocks[0 .. 2*sackCount). */
  sackCount = 0;
  readonly sackBlocks: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

  reset(): void {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.timestamp = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackCount = 0;
  }
}

/**
 * Parses the options in b[start, end) into `out`. Returns false when an
 * option's length is impossible (zero, one, past the header, or wrong for its
 * kind): RFC 9293 §3.1 asks to survive such a segment, and we drop it.
 * Unknown options are skipped by their length.
 */
export function parseOptions(b: Uint8Array, start: number, end: number, out: TcpOptions): boolean {
  out.reset();
  let i = start;
  // The usual layout of an established connection's segments: NOP, NOP, timestamps.
  if (
    end - start === TIMESTAMP_OPTION_LENGTH &&
    b[i] === OPT_NOP &&
    b[i + 1] === OPT_NOP &&
    b[i + 2] === OPT_TIMESTAMP &&
    b[i + 3] === 10
  ) {
    out.timestamp = true;
    out.tsVal = readU32(b, i + 4);
    out.tsEcr = readU32(b, i + 8);
    return true;
  }
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return false;
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return false;
        out.mss = (b[i + 2]! << 8) | b[i + 3]!;
        break;
      case OPT_WSCALE:
        if (len !== 3) return false;
        out.wscale = Math.min(b[i + 2]!, MAX_WINDOW_SHIFT);
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return false;
        out.sackPermitted = true;
        break;
      case OPT_TIMESTAMP:
        if (len !== 10) return false;
        out.timestamp = true;
        out.tsVal = readU32(b, i + 2);
        out.tsEcr = readU32(b, i + 6);
        break;
      case OPT_SACK: {
        const n = (len - 2) >> 3;
        if ((len - 2) & 7 || n === 0) return false;
        const count = Math.min(n, MAX_SACK_BLOCKS);
        for (let k = 0; k < count; k++) {
          out.sackBlocks[2 * k] = readU32(b, i + 2 + 8 * k);
          out.sackBlocks[2 * k + 1] = readU32(b, i + 6 + 8 * k);
        }
        out.sackCount = count;
        break;
      }
      default:
        break;
    }
    i += len;
  }
  return true;
}

/** Writes MSS (4 bytes) at b[o]. Returns the next offset. */
export function writeMssOption(b: Uint8Array, o: number, mss: number): number {
  b[o] = OPT_MSS;
  b[o + 1] = 4;
  writeU16(b, o + 2, mss);
  return o + 4;
}

/** Writes NOP + window scale (4 bytes) at b[o]. */
export function writeWindowScaleOption(b: Uint8Array, o: number, shift: number): number {
  b[o] = OPT_NOP;
  b[o + 1] = OPT_WSCALE;
  b[o + 2] = 3;
  b[o + 3] = shift;
  return o + 4;
}

/** Writes NOP, NOP, SACK-permitted (4 bytes) at b[o]. */
export function writeSackPermittedOption(b: Uint8Array, o: number): number {
  b[o] = OPT_NOP;
  b[o + 1] = OPT_NOP;
  b[o + 2] = OPT_SACK_PERMITTED;
  b[o + 3] = 2;
  return o + 4;
}

/** Writes NOP, NOP, timestamps (12 bytes) at b[o]. */
export function writeTimestampOption(b: Uint8Array, o: number, tsVal: number, tsEcr: number) {
  b[o] = OPT_NOP;
  b[o + 1] = OPT_NOP;
  b[o + 2] = OPT_TIMESTAMP;
  b[o + 3] = 10;
  writeU32(b, o + 4, tsVal);
  writeU32(b, o + 8, tsEcr);
  return o + 12;
}

/** Writes NOP, NOP, SACK with `count` blocks from `blocks` (4 + 8·count bytes) at b[o]. */
export function writeSackOption(
  b: Uint8Array,
  o: number,
  blocks: ArrayLike<number>,
  count: number,
) {
  b[o] = OPT_NOP;
  b[o + 1] = OPT_NOP;
  b[o + 2] = OPT_SACK;
  b[o + 3] = 2 + 8 * count;
  let p = o + 4;
  for (let k = 0; k < count; k++) {
    writeU32(b, p, blocks[2 * k]!);
    writeU32(b, p + 4, blocks[2 * k + 1]!);
    p += 8;
  }
  return p;
}

// ---- header --------------------------------------------------------------------------------

/** Writes the fixed header; `headerBytes` includes options (a multiple of 4). Checksum zeroed. */
export function writeHeader(
  b: Uint8Array,
  o: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  segFlags: number,
  window: number,
  headerBytes: number,
): void {
  writeU16(b, o, sport);
  writeU16(b, o + 2, dport);
  writeU32(b, o + 4, seq);
  writeU32(b, o + 8, ack);
  b[o + 12] = (headerBytes >> 2) << 4;
  b[o + 13] = segFlags;
  writeU16(b, o + 14, window);
  b[o + 16] = 0;
  b[o + 17] = 0;
  b[o + 18] = 0;
  b[o + 19] = 0;
}

/** Computes and stores the checksum of the segment b[o, o+length) sent from src to dst. */
export function fillChecksum(b: Uint8Array, o: number, length: number, src: number, dst: number) {
  b[o + 16] = 0;
  b[o + 17] = 0;
  const sum = sumWords(b, o, length, pseudoHeaderSum(src, dst, TCP_PROTOCOL, length));
  writeU16(b, o + 16, finishChecksum(sum));
}

/** True when the segment's checksum is right (a sum including the checksum field folds to 0xffff). */
export function verifyChecksum(
  b: Uint8Array,
  o: number,
  length: number,
  src: number,
  dst: number,
): boolean {
  const sum = sumWords(b, o, length, pseudoHeaderSum(src, dst, TCP_PROTOCOL, length));
  return finishChecksum(sum) === 0;
}

/** A readable description of flags (`SYN,ACK`), for logs and tests. */
export function describeFlags(f: number): string {
  const names: string[] = [];
  if (f & SYN) names.push("SYN");
  if (f & ACK) names.push("ACK");
  if (f & FIN) names.push("FIN");
  if (f & RST) names.push("RST");
  if (f & PSH) names.push("PSH");
  if (f & URG) names.push("URG");
  if (f & ECE) names.push("ECE");
  if (f & CWR) names.push("CWR");
  return names.join(",");
}

/** The parsed form of a segment, off the hot path (tests, logs, fuzzing). */
export interface TcpSegmentRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  timestamp?: { tsVal: number; tsEcr: number };
  sack?: Array<[number, number]>;
  payload: Uint8Array;
}

/** Parses a whole segment into a TcpSegmentRepr, or undefined when malformed. */
export function parseSegment(
  b: Uint8Array,
  o = 0,
  length = b.length - o,
): TcpSegmentRepr | undefined {
  const h = checkHeader(b, o, length);
  if (h < 0) return undefined;
  const opts = new TcpOptions();
  if (!parseOptions(b, o + TCP_HEADER_LENGTH, o + h, opts)) return undefined;
  const repr: TcpSegmentRepr = {
    srcPort: srcPort(b, o),
    dstPort: dstPort(b, o),
    seq: seqNumber(b, o),
    ack: ackNumber(b, o),
    flags: flags(b, o),
    window: windowField(b, o),
    urgent: urgentPointer(b, o),
    payload: b.slice(o + h, o + length),
  };
  if (opts.mss >= 0) repr.mss = opts.mss;
  if (opts.wscale >= 0) repr.wscale = opts.wscale;
  if (opts.sackPermitted) repr.sackPermitted = true;
  if (opts.timestamp) repr.timestamp = { tsVal: opts.tsVal, tsEcr: opts.tsEcr };
  if (opts.sackCount > 0) {
    repr.sack = [];
    for (let k = 0; k < opts.sackCount; k++)
      repr.sack.push([opts.sackBlocks[2 * k]!, opts.sackBlocks[2 * k + 1]!]);
  }
  return repr;
}

/** Length of the options `repr` carries, padded to 4 bytes. */
function optionsLength(repr: TcpSegmentRepr): number {
  let n = 0;
  if (repr.mss !== undefined) n += 4;
  if (repr.wscale !== undefined) n += 4;
  if (repr.sackPermitted) n += 4;
  if (repr.timestamp) n += 12;
  if (repr.sack && repr.sack.length > 0) n += 4 + 8 * repr.sack.length;
  return n;
}

/**
 * Emits a whole segment from a repr into a new array, with the checksum for
 * src → dst. For tests and tools; the engine writes segments in place.
 */
export function emitSegment(repr: TcpSegmentRepr, src: number, dst: number): Uint8Array {
  const h = TCP_HEADER_LENGTH + optionsLength(repr);
  const b = new Uint8Array(h + repr.payload.length);
  writeHeader(b, 0, repr.srcPort, repr.dstPort, repr.seq, repr.ack, repr.flags, repr.window, h);
  writeU16(b, 18, repr.urgent);
  let p = TCP_HEADER_LENGTH;
  if (repr.mss !== undefined) p = writeMssOption(b, p, repr.mss);
  if (repr.wscale !== undefined) p = writeWindowScaleOption(b, p, repr.wscale);
  if (repr.sackPermitted) p = writeSackPermittedOption(b, p);
  if (repr.timestamp) p = writeTimestampOption(b, p, repr.timestamp.tsVal, repr.timestamp.tsEcr);
  if (repr.sack && repr.sack.length > 0)
    p = writeSackOption(b, p, repr.sack.flat(), repr.sack.length);
  b.set(repr.payload, h);
  fillChecksum(b, 0, b.length, src, dst);
  return b;
}
