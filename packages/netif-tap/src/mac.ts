// The MACs the TAP driver accepts, makes up or compares; parsing and
// formatting are @atoll/netif's.

import { randomFillSync } from "node:crypto";
import {
  formatMac,
  InvalidNetifOptionError,
  isMulticastMac,
  MAC_LENGTH,
  parseMac,
} from "@atoll/netif";

/** A MAC as text or bytes, checked to be a 6-byte unicast address; returns a private copy. */
export function toUnicastMac(mac: string | Uint8Array, what = "mac"): Uint8Array {
  const bytes = typeof mac === "string" ? parseMac(mac) : Uint8Array.from(mac);
  if (bytes.length !== MAC_LENGTH)
    throw new InvalidNetifOptionError(what, `a MAC address has 6 bytes, got ${bytes.length}`);
  if (isMulticastMac(bytes))
    throw new InvalidNetifOptionError(
      what,
      `${formatMac(bytes)} is a group address; an interface needs a unicast MAC`,
    );
  return bytes;
}

/** A unicast MAC from text or bytes, or undefined when it is not one (for argument parsing). */
export function unicastMacOrUndefined(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) return undefined;
  try {
    return toUnicastMac(value);
  } catch {
    return undefined;
  }
}

/** A random locally administered unicast address, like a VM's generated NIC address. */
export function randomMac(): Uint8Array {
  const mac = randomFillSync(new Uint8Array(MAC_LENGTH));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (a[i] !== b[i]) return false;
  return true;
}
