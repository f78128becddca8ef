// Ethernet II frames (IEEE 802.3 with an EtherType, no VLAN tag, no FCS):
// a 14-byte header of destination MAC, source MAC and EtherType, read and
// written in place. MAC addresses are 6-byte Uint8Arrays.

export const ETHERNET_HEADER_LENGTH = 14;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  IPV6: 0x86dd,
} as const;

export const BROADCAST_MAC: Uint8Array = new Uint8Array([255, 255, 255, 255, 255, 255]);

/** The EtherType of a frame of at least 14 bytes. */
export function ethernetType(frame: Uint8Array, offset = 0): number {
  return (frame[offset + 12]! << 8) | frame[offset + 13]!;
}

/** True when the destination (bytes 0-5) is ff:ff:ff:ff:ff:ff. */
export function isBroadcastDestination(frame: Uint8Array, offset = 0): boolean {
  return (
    (frame[offset]! &
      frame[offset + 1]! &
      frame[offset + 2]! &
      frame[offset + 3]! &
      frame[offset + 4]! &
      frame[offset + 5]!) ===
    255
  );
}

/** True when the group bit of the destination is set (multicast or broadcast). */
export function isMulticastDestination(frame: Uint8Array, offset = 0): boolean {
  return (frame[offset]! & 1) === 1;
}

/** Compares 6 bytes of `a` at `aOffset` with 6 bytes of `b` at `bOffset`. */
export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  for (let i = 0; i < 6; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** Writes the 14-byte header at `offset`. */
export function emitEthernetHeader(
  buffer: Uint8Array,
  offset: number,
  destination: Uint8Array,
  source: Uint8Array,
  etherType: number,
): void {
  for (let i = 0; i < 6; i++) {
    buffer[offset + i] = destination[i]!;
    buffer[offset + 6 + i] = source[i]!;
  }
  buffer[offset + 12] = etherType >>> 8;
  buffer[offset + 13] = etherType & 0xff;
}

/** `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: Uint8Array, offset = 0): string {
  let text = "";
  for (let i = 0; i < 6; i++) {
    if (i > 0) text += ":";
    text += mac[offset + i]!.toString(16).padStart(2, "0");
  }
  return text;
}

/** Parses `aa:bb:cc:dd:ee:ff` (or with `-`); undefined when malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const match =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      text,
    );
  if (match === null) return undefined;
  return new Uint8Array(match.slice(1).map((h) => Number.parseInt(h, 16)));
}

/** The parsed form of an Ethernet header, for tests and tools (copies the addresses). */
export interface EthernetRepr {
  readonly destination: Uint8Array;
  readonly source: Uint8Array;
  readonly etherType: number;
}

export function parseEthernet(frame: Uint8Array): EthernetRepr | undefined {
  if (frame.length < ETHERNET_HEADER_LENGTH) return undefined;
  return {
    destination: frame.slice(0, 6),
    source: frame.slice(6, 12),
    etherType: ethernetType(frame),
  };
}

export function emitEthernet(repr: EthernetRepr, buffer: Uint8Array, offset = 0): void {
  emitEthernetHeader(buffer, offset, repr.destination, repr.source, repr.etherType);
}
