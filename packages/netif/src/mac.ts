// MAC addresses: formatting, parsing and the bits that matter to a bridge.
// A MAC is a 6-byte Uint8Array; the bridge keys its table by the address as
// a 48-bit integer, exact in a double.

import { InvalidNetifOptionError } from "./errors.js";

export const MAC_LENGTH = 6;

/** ff:ff:ff:ff:ff:ff. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([255, 255, 255, 255, 255, 255]);

/** True when the group bit (the least significant bit of the first octet) is set: multicast or broadcast. */
export function isMulticastMac(bytes: Uint8Array, offset = 0): boolean {
  return ((bytes[offset] ?? 0) & 1) === 1;
}

export function isBroadcastMac(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (bytes[offset + i] !== 255) return false;
  return true;
}

/** True when the locally administered bit (second least significant of the first octet) is set. */
export function isLocalMac(bytes: Uint8Array, offset = 0): boolean {
  return ((bytes[offset] ?? 0) & 2) === 2;
}

/** The address at `offset` as an integer in [0, 2^48). */
export function macKey(bytes: Uint8Array, offset = 0): number {
  return (
    ((bytes[offset]! << 8) | bytes[offset + 1]!) * 0x1_0000_0000 +
    (((bytes[offset + 2]! << 24) |
      (bytes[offset + 3]! << 16) |
      (bytes[offset + 4]! << 8) |
      bytes[offset + 5]!) >>>
      0)
  );
}

/** `02:a7:00:01:00:01`. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let out = "";
  for (let i = 0; i < MAC_LENGTH; i++) {
    if (i > 0) out += ":";
    out += (bytes[offset + i] ?? 0).toString(16).padStart(2, "0");
  }
  return out;
}

const macPattern =
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** Parses `02:a7:00:01:00:01` (or with dashes); throws an InvalidNetifOptionError otherwise. */
export function parseMac(text: string): Uint8Array {
  const match = macPattern.exec(text.trim());
  if (match === null) {
    throw new InvalidNetifOptionError(
      "mac",
      `"${text}" is not a MAC address (expected aa:bb:cc:dd:ee:ff)`,
    );
  }
  return new Uint8Array(match.slice(1, 7).map((h) => Number.parseInt(h, 16)));
}

/** Accepts a MAC as bytes or text, checks it is a 6-byte unicast address and returns a private copy. */
export function toUnicastMac(mac: Uint8Array | string, what = "mac"): Uint8Array {
  const bytes = typeof mac === "string" ? parseMac(mac) : mac.slice();
  if (bytes.length !== MAC_LENGTH) {
    throw new InvalidNetifOptionError(what, `a MAC address has 6 bytes, got ${bytes.length}`);
  }
  if (isMulticastMac(bytes)) {
    throw new InvalidNetifOptionError(
      what,
      `${formatMac(bytes)} is a group address; an interface needs a unicast MAC`,
    );
  }
  return bytes;
}
