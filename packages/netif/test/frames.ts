// Test helper: real-looking Ethernet frames (ARP, IPv4 with UDP or ICMP echo)
// with correct checksums, for pcap files that tshark must find clean. Kept
// here rather than imported from @atoll/tcpip, which depends on this package.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export function ipv4(text: string): number {
  const parts = text.split(".").map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** RFC 1071 Internet checksum over bytes[offset, offset + length), plus an initial sum. */
export function checksum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  let i = offset;
  const end = offset + length;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payloadLength: number) {
  const frame = new Uint8Array(14 + payloadLength);
  frame.set(dst, 0);
  frame.set(src, 6);
  new DataView(frame.buffer).setUint16(12, type);
  return frame;
}

function ipv4Header(
  frame: Uint8Array,
  protocol: number,
  src: number,
  dst: number,
  totalLength: number,
  id: number,
) {
  const v = new DataView(frame.buffer, 14);
  v.setUint8(0, 0x45);
  v.setUint8(1, 0);
  v.setUint16(2, totalLength);
  v.setUint16(4, id);
  v.setUint16(6, 0x4000); // don't fragment
  v.setUint8(8, 64);
  v.setUint8(9, protocol);
  v.setUint16(10, 0);
  v.setUint32(12, src);
  v.setUint32(16, dst);
  v.setUint16(10, checksum(frame, 14, 20));
}

export interface Endpoint {
  readonly mac: Uint8Array;
  readonly ip: number;
}

export function udpFrame(
  from: Endpoint,
  to: Endpoint,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  id = 1,
): Uint8Array {
  const udpLength = 8 + payload.length;
  const frame = ethernet(to.mac, from.mac, ETHERTYPE_IPV4, 20 + udpLength);
  ipv4Header(frame, 17, from.ip, to.ip, 20 + udpLength, id);
  const v = new DataView(frame.buffer, 34);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, udpLength);
  v.setUint16(6, 0);
  frame.set(payload, 42);
  const pseudo =
    (from.ip >>> 16) + (from.ip & 0xffff) + (to.ip >>> 16) + (to.ip & 0xffff) + 17 + udpLength;
  const sum = checksum(frame, 34, udpLength, pseudo);
  v.setUint16(6, sum === 0 ? 0xffff : sum);
  return frame;
}

export function icmpEcho(
  from: Endpoint,
  to: Endpoint,
  type: 0 | 8,
  identifier: number,
  sequence: number,
  data: Uint8Array,
): Uint8Array {
  const icmpLength = 8 + data.length;
  const frame = ethernet(to.mac, from.mac, ETHERTYPE_IPV4, 20 + icmpLength);
  ipv4Header(frame, 1, from.ip, to.ip, 20 + icmpLength, 0x100 + sequence);
  const v = new DataView(frame.buffer, 34);
  v.setUint8(0, type);
  v.setUint8(1, 0);
  v.setUint16(2, 0);
  v.setUint16(4, identifier);
  v.setUint16(6, sequence);
  frame.set(data, 42);
  v.setUint16(2, checksum(frame, 34, icmpLength));
  return frame;
}

export function arpRequest(from: Endpoint, targetIp: number): Uint8Array {
  const frame = ethernet(new Uint8Array(6).fill(255), from.mac, ETHERTYPE_ARP, 28);
  const v = new DataView(frame.buffer, 14);
  v.setUint16(0, 1); // Ethernet
  v.setUint16(2, ETHERTYPE_IPV4);
  v.setUint8(4, 6);
  v.setUint8(5, 4);
  v.setUint16(6, 1); // request
  frame.set(from.mac, 22);
  v.setUint32(14, from.ip);
  v.setUint32(24, targetIp);
  return frame;
}

export function arpReply(from: Endpoint, to: Endpoint): Uint8Array {
  const frame = ethernet(to.mac, from.mac, ETHERTYPE_ARP, 28);
  const v = new DataView(frame.buffer, 14);
  v.setUint16(0, 1);
  v.setUint16(2, ETHERTYPE_IPV4);
  v.setUint8(4, 6);
  v.setUint8(5, 4);
  v.setUint16(6, 2); // reply
  frame.set(from.mac, 22);
  v.setUint32(14, from.ip);
  frame.set(to.mac, 32);
  v.setUint32(24, to.ip);
  return frame;
}

/** A minimal frame from `src` to `dst` with EtherType 0x88B5 and a sequence number, padded to `length`. */
export function rawFrame(dst: Uint8Array, src: Uint8Array, seq: number, length = 64): Uint8Array {
  const frame = new Uint8Array(length);
  frame.set(dst, 0);
  frame.set(src, 6);
  const v = new DataView(frame.buffer);
  v.setUint16(12, 0x88b5);
  if (length >= 18) v.setUint32(14, seq);
  for (let i = 18; i < length; i++) frame[i] = (seq + i) & 0xff;
  return frame;
}

export function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14);
}

export const mac = (...bytes: number[]) => new Uint8Array(bytes);
