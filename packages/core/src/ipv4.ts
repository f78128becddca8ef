// Textual IPv4 addresses and CIDR prefixes, as used by runtime arguments.
// Strict: four decimal octets, no leading zeros (which some parsers read as octal).

export interface Ipv4Cidr {
  /** The address, normalised dotted quad (`10.0.0.2`). */
  readonly address: string;
  /** Prefix length, 0..32. */
  readonly prefix: number;
}

const octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const ipv4Pattern = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}$`);

/** The address as an unsigned 32-bit number, or undefined when malformed. */
export function parseIpv4(text: string): number | undefined {
  const match = ipv4Pattern.exec(text);
  if (match === null) return undefined;
  return (
    ((Number(match[1]) << 24) |
      (Number(match[2]) << 16) |
      (Number(match[3]) << 8) |
      Number(match[4])) >>>
    0
  );
}

export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

export function parseCidr(text: string): Ipv4Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (parseIpv4(address) === undefined || !/^(3[0-2]|[12]?[0-9])$/.test(prefixText))
    return undefined;
  return { address, prefix: Number(prefixText) };
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}
