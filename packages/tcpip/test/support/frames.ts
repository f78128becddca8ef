// Builds frames by hand for injection, and reads frames a stack sent.

import { parseIpv4 as parseAddress } from "@atoll/core";
import { emitArpPacket } from "../../src/wire/arp.js";
import { EtherType, emitEthernetHeader } from "../../src/wire/ethernet.js";
import { emitIcmpHeader, fillIcmpChecksum } from "../../src/wire/icmpv4.js";
import { emitIpv4Header, IpProtocol } from "../../src/wire/ipv4.js";
import { emitUdpHeader } from "../../src/wire/udp.js";

export const ip = (text: string): number => {
  const n = parseAddress(text);
  if (n === undefined) throw new Error(`bad address ${text}`);
  return n;
};

export interface Ipv4FrameOptions {
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly payload: Uint8Array;
  readonly id?: number;
  readonly ttl?: number;
  readonly moreFragments?: boolean;
  /** Bytes. */
  readonly fragmentOffset?: number;
}

export function ipv4Frame(o: Ipv4FrameOptions): Uint8Array {
  const frame = new Uint8Array(34 + o.payload.length);
  emitEthernetHeader(frame, 0, o.dstMac, o.srcMac, EtherType.IPV4);
  frame.set(o.payload, 34);
  emitIpv4Header(
    frame,
    14,
    ip(o.src),
    ip(o.dst),
    o.protocol,
    o.payload.length,
    o.id ?? 1,
    o.ttl ?? 64,
    false,
    o.moreFragments ?? false,
    o.fragmentOffset ?? 0,
  );
  return frame;
}

/** A UDP datagram (header + data) with its checksum. */
export function udpPayload(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out.set(data, 8);
  emitUdpHeader(out, 0, srcPort, dstPort, data.length, ip(src), ip(dst));
  return out;
}

export function echoRequestPayload(id: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out.set(data, 8);
  emitIcmpHeader(out, 0, 8, 0, ((id << 16) | seq) >>> 0);
  fillIcmpChecksum(out, 0, out.length);
  return out;
}

export function arpFrame(
  operation: number,
  srcMac: Uint8Array,
  senderMac: Uint8Array,
  senderIp: string,
  targetMac: Uint8Array,
  targetIp: string,
  dstMac: Uint8Array = new Uint8Array(6).fill(255),
): Uint8Array {
  const frame = new Uint8Array(42);
  emitEthernetHeader(frame, 0, dstMac, srcMac, EtherType.ARP);
  emitArpPacket(frame, 14, operation, senderMac, ip(senderIp), targetMac, ip(targetIp));
  return frame;
}

export const isArp = (frame: Uint8Array) => frame[12] === 0x08 && frame[13] === 0x06;
export const isIpv4 = (frame: Uint8Array) => frame[12] === 0x08 && frame[13] === 0x00;
export const arpOp = (frame: Uint8Array) => frame[21]!;
export const ipProtocolOf = (frame: Uint8Array) => frame[23]!;
export { IpProtocol };

/** Byte equality without vitest's element-by-element diffing (slow on large arrays). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
