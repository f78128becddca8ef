// ARP for IPv4 over Ethernet (RFC 826): a 28-byte packet after the Ethernet
// header. Only hardware type 1 (Ethernet), protocol 0x0800 (IPv4) and
// operations request (1) and reply (2) are valid; anything else is rejected
// by checkArp and counted by the interface.

import { readUint32, writeUint32 } from "./bytes.js";

export const ARP_PACKET_LENGTH = 28;

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;

/** Why checkArp rejected a packet. */
export const ArpProblem = {
  OK: 0,
  TRUNCATED: 1,
  UNSUPPORTED_HARDWARE: 2,
  UNSUPPORTED_PROTOCOL: 3,
  BAD_OPERATION: 4,
} as const;
export type ArpProblem = (typeof ArpProblem)[keyof typeof ArpProblem];

/** Validates the ARP packet at buffer[offset, offset+length) once; the accessors then read without checks. */
export function checkArp(buffer: Uint8Array, offset: number, length: number): ArpProblem {
  if (length < ARP_PACKET_LENGTH || offset + ARP_PACKET_LENGTH > buffer.length)
    return ArpProblem.TRUNCATED;
  if (buffer[offset] !== 0 || buffer[offset + 1] !== 1 || buffer[offset + 4] !== 6)
    return ArpProblem.UNSUPPORTED_HARDWARE;
  if (buffer[offset + 2] !== 0x08 || buffer[offset + 3] !== 0x00 || buffer[offset + 5] !== 4)
    return ArpProblem.UNSUPPORTED_PROTOCOL;
  const op = arpOperation(buffer, offset);
  if (op !== ArpOperation.REQUEST && op !== ArpOperation.REPLY) return ArpProblem.BAD_OPERATION;
  return ArpProblem.OK;
}

export function arpOperation(buffer: Uint8Array, offset: number): number {
  return (buffer[offset + 6]! << 8) | buffer[offset + 7]!;
}

/** Offset of the sender hardware address (6 bytes). */
export const ARP_SENDER_MAC = 8;
/** Offset of the target hardware address (6 bytes). */
export const ARP_TARGET_MAC = 18;

export function arpSenderIp(buffer: Uint8Array, offset: number): number {
  return readUint32(buffer, offset + 14);
}

export function arpTargetIp(buffer: Uint8Array, offset: number): number {
  return readUint32(buffer, offset + 24);
}

/** Writes a 28-byte ARP packet for Ethernet/IPv4 at `offset`. */
export function emitArpPacket(
  buffer: Uint8Array,
  offset: number,
  operation: number,
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
): void {
  buffer[offset] = 0;
  buffer[offset + 1] = 1;
  buffer[offset + 2] = 0x08;
  buffer[offset + 3] = 0x00;
  buffer[offset + 4] = 6;
  buffer[offset + 5] = 4;
  buffer[offset + 6] = operation >>> 8;
  buffer[offset + 7] = operation & 0xff;
  buffer.set(senderMac.subarray(0, 6), offset + ARP_SENDER_MAC);
  writeUint32(buffer, offset + 14, senderIp);
  buffer.set(targetMac.subarray(0, 6), offset + ARP_TARGET_MAC);
  writeUint32(buffer, offset + 24, targetIp);
}

/** The parsed form of an ARP packet, for tests and tools. */
export interface ArpRepr {
  readonly operation: number;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  readonly targetMac: Uint8Array;
  readonly targetIp: number;
}

export function parseArp(buffer: Uint8Array, offset = 0): ArpRepr | undefined {
  if (checkArp(buffer, offset, buffer.length - offset) !== ArpProblem.OK) return undefined;
  return {
    operation: arpOperation(buffer, offset),
    senderMac: buffer.slice(offset + ARP_SENDER_MAC, offset + ARP_SENDER_MAC + 6),
    senderIp: arpSenderIp(buffer, offset),
    targetMac: buffer.slice(offset + ARP_TARGET_MAC, offset + ARP_TARGET_MAC + 6),
    targetIp: arpTargetIp(buffer, offset),
  };
}

export function emitArp(repr: ArpRepr, buffer: Uint8Array, offset = 0): void {
  emitArpPacket(
    buffer,
    offset,
    repr.operation,
    repr.senderMac,
    repr.senderIp,
    repr.targetMac,
    repr.targetIp,
  );
}
