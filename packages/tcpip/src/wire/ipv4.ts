// IPv4 headers (RFC 791): checked once by checkIpv4, then read through
// accessors at fixed offsets; written in place by emitIpv4Header with the
// header checksum (RFC 1071). Addresses are unsigned 32-bit numbers.

import { readUint16, readUint32, writeUint16, writeUint32 } from "./bytes.js";
import { finishChecksum, sumWords } from "./checksum.js";

export const IPV4_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;
export const IPV4_MAX_PACKET_LENGTH = 65535;

export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17 } as const;

/** Why checkIpv4 rejected a packet. */
export const Ipv4Problem = {
  OK: 0,
  TRUNCATED: 1,
  BAD_VERSION: 2,
  BAD_HEADER_LENGTH: 3,
  BAD_TOTAL_LENGTH: 4,
  BAD_CHECKSUM: 5,
  BAD_OPTIONS: 6,
  BAD_FRAGMENT: 7,
} as const;
export type Ipv4Problem = (typeof Ipv4Problem)[keyof typeof Ipv4Problem];

/**
 * Validates the IPv4 packet at buffer[offset, offset+length): version 4, a
 * header length of 20-60 bytes within the packet, a total length between the
 * header length and `length` (bytes after it are link padding), the header
 * checksum, well-formed options, and a fragment that ends inside 65535 bytes.
 */
export function checkIpv4(buffer: Uint8Array, offset: number, length: number): Ipv4Problem {
  if (length < IPV4_HEADER_LENGTH || offset + length > buffer.length) return Ipv4Problem.TRUNCATED;
  const first = buffer[offset]!;
  if (first >>> 4 !== 4) return Ipv4Problem.BAD_VERSION;
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LENGTH || headerLength > length)
    return Ipv4Problem.BAD_HEADER_LENGTH;
  const total = readUint16(buffer, offset + 2);
  if (total < headerLength || total > length) return Ipv4Problem.BAD_TOTAL_LENGTH;
  const sum =
    headerLength === IPV4_HEADER_LENGTH
      ? sumHeader20(buffer, offset)
      : sumWords(buffer, offset, headerLength);
  if (finishChecksum(sum) !== 0) return Ipv4Problem.BAD_CHECKSUM;
  if (
    headerLength > IPV4_HEADER_LENGTH &&
    !optionsWellFormed(buffer, offset + 20, offset + headerLength)
  )
    return Ipv4Problem.BAD_OPTIONS;
  const fragmentOffset = ipv4FragmentOffset(buffer, offset);
  if (fragmentOffset + (total - headerLength) > IPV4_MAX_PACKET_LENGTH - IPV4_HEADER_LENGTH)
    return Ipv4Problem.BAD_FRAGMENT;
  // A non-final fragment carries a multiple of 8 bytes (RFC 791), and something.
  if (ipv4MoreFragments(buffer, offset) && ((total - headerLength) & 7 || total === headerLength))
    return Ipv4Problem.BAD_FRAGMENT;
  return Ipv4Problem.OK;
}

/** Options are type-length-value, except End of List (0) and No Operation (1) which are one byte. */
function optionsWellFormed(buffer: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = buffer[i]!;
    if (type === 0) return true;
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = buffer[i + 1]!;
    if (len < 2 || i + len > end) return false;
    i += len;
  }
  return true;
}

export function ipv4HeaderLength(buffer: Uint8Array, offset: number): number {
  return (buffer[offset]! & 0x0f) * 4;
}
export function ipv4Tos(buffer: Uint8Array, offset: number): number {
  return buffer[offset + 1]!;
}
export function ipv4TotalLength(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 2);
}
export function ipv4Identification(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 4);
}
export function ipv4DontFragment(buffer: Uint8Array, offset: number): boolean {
  return (buffer[offset + 6]! & 0x40) !== 0;
}
export function ipv4MoreFragments(buffer: Uint8Array, offset: number): boolean {
  return (buffer[offset + 6]! & 0x20) !== 0;
}
/** The fragment offset in bytes (the field counts 8-byte units). */
export function ipv4FragmentOffset(buffer: Uint8Array, offset: number): number {
  return (readUint16(buffer, offset + 6) & 0x1fff) * 8;
}
/** True for any fragment: more-fragments set or a non-zero offset. */
export function ipv4IsFragment(buffer: Uint8Array, offset: number): boolean {
  return (readUint16(buffer, offset + 6) & 0x3fff) !== 0;
}
export function ipv4Ttl(buffer: Uint8Array, offset: number): number {
  return buffer[offset + 8]!;
}
export function ipv4Protocol(buffer: Uint8Array, offset: number): number {
  return buffer[offset + 9]!;
}
export function ipv4Source(buffer: Uint8Array, offset: number): number {
  return readUint32(buffer, offset + 12);
}
export function ipv4Destination(buffer: Uint8Array, offset: number): number {
  return readUint32(buffer, offset + 16);
}

/**
 * Writes a 20-byte header (no options) at `offset` and its checksum.
 * `fragmentOffset` is in bytes and must be a multiple of 8.
 */
export function emitIpv4Header(
  buffer: Uint8Array,
  offset: number,
  source: number,
  destination: number,
  protocol: number,
  payloadLength: number,
  identification: number,
  ttl: number,
  dontFragment: boolean,
  moreFragments: boolean,
  fragmentOffset: number,
  tos = 0,
): void {
  const total = IPV4_HEADER_LENGTH + payloadLength;
  const flags = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset >>> 3);
  buffer[offset] = 0x45;
  buffer[offset + 1] = tos;
  writeUint16(buffer, offset + 2, total);
  writeUint16(buffer, offset + 4, identification);
  writeUint16(buffer, offset + 6, flags);
  buffer[offset + 8] = ttl;
  buffer[offset + 9] = protocol;
  writeUint16(
    buffer,
    offset + 10,
    headerChecksum(source, destination, protocol, total, identification, ttl, flags, tos),
  );
  writeUint32(buffer, offset + 12, source);
  writeUint32(buffer, offset + 16, destination);
}

/**
 * The same header written through a DataView of the buffer (four 32-bit
 * stores and a 16-bit one instead of twenty byte stores): the send fast path.
 */
export function emitIpv4HeaderView(
  view: DataView,
  offset: number,
  source: number,
  destination: number,
  protocol: number,
  payloadLength: number,
  identification: number,
  ttl: number,
  dontFragment: boolean,
): void {
  const total = IPV4_HEADER_LENGTH + payloadLength;
  const flags = dontFragment ? 0x4000 : 0;
  view.setUint32(offset, (0x4500 << 16) | total);
  view.setUint32(offset + 4, ((identification << 16) | flags) >>> 0);
  view.setUint32(
    offset + 8,
    (((ttl << 24) | (protocol << 16)) >>> 0) +
      headerChecksum(source, destination, protocol, total, identification, ttl, flags, 0),
  );
  view.setUint32(offset + 12, source);
  view.setUint32(offset + 16, destination);
}

/** The header checksum computed from the field values, without reading the bytes back. */
function headerChecksum(
  source: number,
  destination: number,
  protocol: number,
  total: number,
  identification: number,
  ttl: number,
  flags: number,
  tos: number,
): number {
  return finishChecksum(
    (0x4500 | tos) +
      total +
      identification +
      flags +
      ((ttl << 8) | protocol) +
      (source >>> 16) +
      (source & 0xffff) +
      (destination >>> 16) +
      (destination & 0xffff),
  );
}

/** The unfolded sum of the ten words of a 20-byte header (the common case, unrolled). */
function sumHeader20(b: Uint8Array, o: number): number {
  return (
    ((b[o]! << 8) | b[o + 1]!) +
    ((b[o + 2]! << 8) | b[o + 3]!) +
    ((b[o + 4]! << 8) | b[o + 5]!) +
    ((b[o + 6]! << 8) | b[o + 7]!) +
    ((b[o + 8]! << 8) | b[o + 9]!) +
    ((b[o + 10]! << 8) | b[o + 11]!) +
    ((b[o + 12]! << 8) | b[o + 13]!) +
    ((b[o + 14]! << 8) | b[o + 15]!) +
    ((b[o + 16]! << 8) | b[o + 17]!) +
    ((b[o + 18]! << 8) | b[o + 19]!)
  );
}

// ---- address classes (RFC 1122 §3.2.1.3, RFC 5735) -------------------------------------------

export const IPV4_BROADCAST = 0xffffffff;

export function isMulticastIpv4(address: number): boolean {
  return address >>> 28 === 0xe;
}
/** Class E (240/4), which includes the limited broadcast address. */
export function isReservedIpv4(address: number): boolean {
  return address >>> 28 === 0xf;
}
export function isLoopbackIpv4(address: number): boolean {
  return address >>> 24 === 127;
}
/** The mask of a prefix length: 24 → 0xffffff00. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

// ---- the parsed form, for tests and tools ------------------------------------------------------

export interface Ipv4Repr {
  readonly source: number;
  readonly destination: number;
  readonly protocol: number;
  readonly ttl: number;
  readonly tos: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Bytes, a multiple of 8. */
  readonly fragmentOffset: number;
  readonly payloadLength: number;
}

/** The header of the packet at `offset`, or undefined when checkIpv4 rejects it. */
export function parseIpv4(buffer: Uint8Array, offset = 0): Ipv4Repr | undefined {
  if (checkIpv4(buffer, offset, buffer.length - offset) !== Ipv4Problem.OK) return undefined;
  return {
    source: ipv4Source(buffer, offset),
    destination: ipv4Destination(buffer, offset),
    protocol: ipv4Protocol(buffer, offset),
    ttl: ipv4Ttl(buffer, offset),
    tos: ipv4Tos(buffer, offset),
    identification: ipv4Identification(buffer, offset),
    dontFragment: ipv4DontFragment(buffer, offset),
    moreFragments: ipv4MoreFragments(buffer, offset),
    fragmentOffset: ipv4FragmentOffset(buffer, offset),
    payloadLength: ipv4TotalLength(buffer, offset) - ipv4HeaderLength(buffer, offset),
  };
}

export function emitIpv4(repr: Ipv4Repr, buffer: Uint8Array, offset = 0): void {
  emitIpv4Header(
    buffer,
    offset,
    repr.source,
    repr.destination,
    repr.protocol,
    repr.payloadLength,
    repr.identification,
    repr.ttl,
    repr.dontFragment,
    repr.moreFragments,
    repr.fragmentOffset,
    repr.tos,
  );
}
