// MAC addresses as text (`02:00:00:00:00:01`) and as 6 bytes.

import { randomFillSync } from "node:crypto";

const macPattern = /^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$/;

/** Parses `aa:bb:cc:dd:ee:ff` (or with dashes); undefined when malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  if (!macPattern.test(text)) return undefined;
  const bytes = new Uint8Array(6);
  for (let i = 0; i < 6; i++) bytes[i] = Number.parseInt(text.slice(i * 3, i * 3 + 2), 16);
  return bytes;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** A unicast MAC address (the group bit of the first byte clear), given as text or 6 bytes. */
export function toUnicastMac(value: unknown): Uint8Array | undefined {
  const mac =
    typeof value === "string"
      ? parseMac(value)
      : value instanceof Uint8Array && value.length === 6
        ? Uint8Array.from(value)
        : undefined;
  return mac !== undefined && (mac[0]! & 1) === 0 ? mac : undefined;
}

/** A random locally administered unicast address, like a VM's generated NIC address. */
export function randomMac(): Uint8Array {
  const mac = randomFillSync(new Uint8Array(6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
