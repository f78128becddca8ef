// UDP datagrams (RFC 768): an 8-byte header of ports, length and a checksum
// over the IPv4 pseudo-header, header and data. A zero checksum means the
// sender computed none (allowed over IPv4); a computed zero is sent as 0xffff.

import { readUint16, writeUint16 } from "./bytes.js";
import { finishChecksum, pseudoHeaderSum, sumWords } from "./checksum.js";
import { IpProtocol } from "./ipv4.js";

export const UDP_HEADER_LENGTH = 8;

export const UdpProblem = { OK: 0, TRUNCATED: 1, BAD_LENGTH: 2, BAD_CHECKSUM: 3 } as const;
export type UdpProblem = (typeof UdpProblem)[keyof typeof UdpProblem];

/**
 * Validates the datagram at buffer[offset, offset+length) (the IP payload):
 * a header, a length field between 8 and `length` (trailing bytes are
 * ignored), and the checksum when one was sent.
 */
export function checkUdp(
  buffer: Uint8Array,
  offset: number,
  length: number,
  source: number,
  destination: number,
): UdpProblem {
  if (length < UDP_HEADER_LENGTH || offset + length > buffer.length) return UdpProblem.TRUNCATED;
  const udpLength = udpLengthField(buffer, offset);
  if (udpLength < UDP_HEADER_LENGTH || udpLength > length) return UdpProblem.BAD_LENGTH;
  if (udpChecksumField(buffer, offset) !== 0) {
    const sum = sumWords(
      buffer,
      offset,
      udpLength,
      pseudoHeaderSum(source, destination, IpProtocol.UDP, udpLength),
    );
    if (finishChecksum(sum) !== 0) return UdpProblem.BAD_CHECKSUM;
  }
  return UdpProblem.OK;
}

export function udpSourcePort(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset);
}
export function udpDestinationPort(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 2);
}
/** Header plus data, in bytes. */
export function udpLengthField(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 4);
}
export function udpChecksumField(buffer: Uint8Array, offset: number): number {
  return readUint16(buffer, offset + 6);
}

/**
 * Writes the header for `dataLength` bytes already at offset+8 and fills the
 * checksum over the pseudo-header, header and data.
 */
export function emitUdpHeader(
  buffer: Uint8Array,
  offset: number,
  sourcePort: number,
  destinationPort: number,
  dataLength: number,
  source: number,
  destination: number,
): void {
  const length = UDP_HEADER_LENGTH + dataLength;
  writeUint16(buffer, offset, sourcePort);
  writeUint16(buffer, offset + 2, destinationPort);
  writeUint16(buffer, offset + 4, length);
  buffer[offset + 6] = 0;
  buffer[offset + 7] = 0;
  const checksum = finishChecksum(
    sumWords(buffer, offset, length, pseudoHeaderSum(source, destination, IpProtocol.UDP, length)),
  );
  writeUint16(buffer, offset + 6, checksum === 0 ? 0xffff : checksum);
}

// ---- the parsed form, for tests and tools ------------------------------------------------------

export interface UdpRepr {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly data: Uint8Array;
}

export function parseUdp(
  buffer: Uint8Array,
  source: number,
  destination: number,
  offset = 0,
  length = buffer.length - offset,
): UdpRepr | undefined {
  if (checkUdp(buffer, offset, length, source, destination) !== UdpProblem.OK) return undefined;
  return {
    sourcePort: udpSourcePort(buffer, offset),
    destinationPort: udpDestinationPort(buffer, offset),
    data: buffer.slice(offset + UDP_HEADER_LENGTH, offset + udpLengthField(buffer, offset)),
  };
}

/** Writes header, data and checksum; returns the datagram's length. */
export function emitUdp(
  repr: UdpRepr,
  buffer: Uint8Array,
  source: number,
  destination: number,
  offset = 0,
): number {
  buffer.set(repr.data, offset + UDP_HEADER_LENGTH);
  emitUdpHeader(
    buffer,
    offset,
    repr.sourcePort,
    repr.destinationPort,
    repr.data.length,
    source,
    destination,
  );
  return UDP_HEADER_LENGTH + repr.data.length;
}
