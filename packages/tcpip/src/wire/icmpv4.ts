// ICMPv4 messages (RFC 792): an 8-byte header of type, code, checksum and a
// type-specific word, then data. Echo request/reply carry an identifier and
// a sequence number; errors quote the offending IP header and the first
// bytes of its payload.

import { readUint16, writeUint16 } from "./bytes.js";
import { finishChecksum, sumWords } from "./checksum.js";

export const ICMP_HEADER_LENGTH = 8;

export const IcmpType = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;

export const UnreachableCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
} as const;

export const TimeExceededCode = { TTL: 0, REASSEMBLY: 1 } as const;

export const IcmpProblem = { OK: 0, TRUNCATED: 1, BAD_CHECKSUM: 2 } as const;
export type IcmpProblem = (typeof IcmpProblem)[keyof typeof IcmpProblem];

/** Validates the message at buffer[offset, offset+length): at least a header, and the checksum over all of it. */
export function checkIcmp(buffer: Uint8Array, offset: number, length: number): IcmpProblem {
  if (length < ICMP_HEADER_LENGTH || offset + length > buffer.length) return IcmpProblem.TRUNCATED;
  if (finishChecksum(sumWords(buffer, offset, length)) !== 0) return IcmpProblem.BAD_CHECKSUM;
  return IcmpProblem.OK;
}

export function icmpType(buffer: Uint8Array, offset: number): number {
  return buffer[offset]!;
}
export function icmpCode(buffer: Uint8Array, offset: number): number {
  return buffer[offset + 1]!;
}
/** Echo identifier (bytes 4-5). */
export function icmpEchoIdentifier(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 4);
}
/** Echo sequence number (bytes 6-7). */
export function icmpEchoSequence(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 6);
}
/** Next-hop MTU of a fragmentation-needed message (RFC 1191), 0 when the router did not say. */
export function icmpNextHopMtu(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 6);
}

/** Writes type, code and the rest-of-header word; the checksum is filled by fillIcmpChecksum. */
export function emitIcmpHeader(
  buffer: Uint8Array,
  offset: number,
  type: number,
  code: number,
  restOfHeader: number,
): void {
  buffer[offset] = type;
  buffer[offset + 1] = code;
  buffer[offset + 2] = 0;
  buffer[offset + 3] = 0;
  writeUint16(buffer, offset + 4, restOfHeader >>> 16);
  writeUint16(buffer, offset + 6, restOfHeader & 0xffff);
}

/** Computes and stores the checksum of the message at buffer[offset, offset+length). */
export function fillIcmpChecksum(buffer: Uint8Array, offset: number, length: number): void {
  buffer[offset + 2] = 0;
  buffer[offset + 3] = 0;
  writeUint16(buffer, offset + 2, finishChecksum(sumWords(buffer, offset, length)));
}

// ---- the parsed form, for tests and tools ------------------------------------------------------

export interface IcmpRepr {
  readonly type: number;
  readonly code: number;
  /** The 32-bit word after the checksum (identifier and sequence for echoes). */
  readonly restOfHeader: number;
  readonly data: Uint8Array;
}

export function parseIcmp(
  buffer: Uint8Array,
  offset = 0,
  length = buffer.length - offset,
): IcmpRepr | undefined {
  if (checkIcmp(buffer, offset, length) !== IcmpProblem.OK) return undefined;
  return {
    type: icmpType(buffer, offset),
    code: icmpCode(buffer, offset),
    restOfHeader: ((readUint16(buffer, offset + 4) << 16) | readUint16(buffer, offset + 6)) >>> 0,
    data: buffer.slice(offset + ICMP_HEADER_LENGTH, offset + length),
  };
}

/** Writes the message (header, data, checksum); returns its length. */
export function emitIcmp(repr: IcmpRepr, buffer: Uint8Array, offset = 0): number {
  emitIcmpHeader(buffer, offset, repr.type, repr.code, repr.restOfHeader);
  buffer.set(repr.data, offset + ICMP_HEADER_LENGTH);
  const length = ICMP_HEADER_LENGTH + repr.data.length;
  fillIcmpChecksum(buffer, offset, length);
  return length;
}
