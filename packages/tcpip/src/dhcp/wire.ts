// DHCP messages (RFC 2131 §2, options after RFC 2132): BOOTP's fixed
// 236-byte header, the magic cookie, then options as code/length/value
// triples. DHCP is off the hot path (a handful of messages per lease), so a
// message is parsed once into a `DhcpMessage` and built from one.
//
// Parsing is strict about structure and lenient about content: a truncated
// header, a wrong cookie, an option that runs past the end, or a missing
// message type is rejected; unknown options are kept and ignored. Options
// may continue in the `file` and `sname` fields (option overload, RFC 2131
// §4.1) and a long option may be split over several instances (RFC 3396):
// both are reassembled.

import { readUint16, readUint32, writeUint16, writeUint32 } from "../wire/bytes.js";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** The fixed BOOTP header, before the magic cookie. */
export const BOOTP_HEADER_LENGTH = 236;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** RFC 1542 §2.1: a BOOTP message is at least 300 bytes; shorter ones are padded. */
export const BOOTP_MIN_LENGTH = 300;

export const BootpOp = { REQUEST: 1, REPLY: 2 } as const;

/** The BROADCAST bit of `flags` (RFC 2131 §4.1): the client cannot receive unicast before it is configured. */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** Option 53's values. */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageType = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

/** The option codes this client reads or writes (RFC 2132). */
export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  INTERFACE_MTU: 26,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** Why parseDhcp rejected a message. */
export const DhcpProblem = {
  OK: 0,
  /** Shorter than the header and the cookie. */
  TRUNCATED: 1,
  /** Not Ethernet (htype 1, hlen 6) or an unknown op. */
  BAD_HEADER: 2,
  BAD_COOKIE: 3,
  /** An option runs past the end of its field, or the overload option is malformed. */
  BAD_OPTIONS: 4,
  /** No option 53, or not one byte, or a value outside 1-8. */
  NO_MESSAGE_TYPE: 5,
} as const;
export type DhcpProblem = (typeof DhcpProblem)[keyof typeof DhcpProblem];

export interface DhcpMessage {
  readonly op: number;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  /** Client address (set when the client is bound, renewing or rebinding). */
  readonly ciaddr: number;
  /** "Your" address: the one offered or assigned. */
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly giaddr: number;
  /** The client's hardware address (the first 6 of 16 bytes for Ethernet). */
  readonly chaddr: Uint8Array;
  readonly type: DhcpMessageType;
  /** Every option but PAD, END and OVERLOAD, each value with its instances concatenated. */
  readonly options: ReadonlyMap<number, Uint8Array>;
}

export type DhcpParseResult =
  | { readonly problem: typeof DhcpProblem.OK; readonly message: DhcpMessage }
  | { readonly problem: Exclude<DhcpProblem, typeof DhcpProblem.OK>; readonly message?: undefined };

const fail = (problem: Exclude<DhcpProblem, typeof DhcpProblem.OK>): DhcpParseResult => ({
  problem,
});

/** Parses the UDP payload `bytes` as a DHCP message; never throws. */
export function parseDhcp(bytes: Uint8Array): DhcpParseResult {
  if (bytes.length < BOOTP_HEADER_LENGTH + 4) return fail(DhcpProblem.TRUNCATED);
  const op = bytes[0]!;
  if ((op !== BootpOp.REQUEST && op !== BootpOp.REPLY) || bytes[1] !== 1 || bytes[2] !== 6)
    return fail(DhcpProblem.BAD_HEADER);
  if (readUint32(bytes, BOOTP_HEADER_LENGTH) !== DHCP_MAGIC_COOKIE)
    return fail(DhcpProblem.BAD_COOKIE);

  const parts = new Map<number, Uint8Array[]>();
  let overload = 0;
  const scan = (start: number, end: number): boolean => {
    let at = start;
    while (at < end) {
      const code = bytes[at]!;
      if (code === DhcpOption.PAD) {
        at++;
        continue;
      }
      if (code === DhcpOption.END) return true;
      if (at + 2 > end) return false;
      const length = bytes[at + 1]!;
      const value = bytes.subarray(at + 2, at + 2 + length);
      if (at + 2 + length > end) return false;
      if (code === DhcpOption.OVERLOAD) {
        if (length !== 1 || start !== BOOTP_HEADER_LENGTH + 4) return false;
        overload = value[0]!;
        if (overload < 1 || overload > 3) return false;
      } else {
        const list = parts.get(code);
        if (list === undefined) parts.set(code, [value]);
        else list.push(value);
      }
      at += 2 + length;
    }
    // No END: accepted when the field ends exactly at an option boundary.
    return true;
  };
  if (!scan(BOOTP_HEADER_LENGTH + 4, bytes.length)) return fail(DhcpProblem.BAD_OPTIONS);
  // RFC 2131 §4.1: with option 52, options continue in `file` (1), `sname` (2) or both (3), in that order.
  if ((overload & 1) !== 0 && !scan(108, 236)) return fail(DhcpProblem.BAD_OPTIONS);
  if ((overload & 2) !== 0 && !scan(44, 108)) return fail(DhcpProblem.BAD_OPTIONS);

  const options = new Map<number, Uint8Array>();
  for (const [code, list] of parts) options.set(code, list.length === 1 ? list[0]! : concat(list));
  const typeOption = options.get(DhcpOption.MESSAGE_TYPE);
  if (typeOption === undefined || typeOption.length !== 1) return fail(DhcpProblem.NO_MESSAGE_TYPE);
  const type = typeOption[0]!;
  if (type < DhcpMessageType.DISCOVER || type > DhcpMessageType.INFORM)
    return fail(DhcpProblem.NO_MESSAGE_TYPE);
  return {
    problem: DhcpProblem.OK,
    message: {
      op,
      xid: readUint32(bytes, 4),
      secs: readUint16(bytes, 8),
      flags: readUint16(bytes, 10),
      ciaddr: readUint32(bytes, 12),
      yiaddr: readUint32(bytes, 16),
      siaddr: readUint32(bytes, 20),
      giaddr: readUint32(bytes, 24),
      chaddr: bytes.slice(28, 34),
      type: type as DhcpMessageType,
      options,
    },
  };
}

function concat(list: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of list) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of list) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What emitDhcp writes: the header fields (zero when absent) and options in the given order. */
export interface DhcpMessageInit {
  readonly op: number;
  readonly xid: number;
  readonly secs?: number;
  readonly flags?: number;
  readonly ciaddr?: number;
  readonly yiaddr?: number;
  readonly siaddr?: number;
  readonly giaddr?: number;
  readonly chaddr: Uint8Array;
  readonly type: DhcpMessageType;
  /** Options after 53, in order; values longer than 255 bytes are split (RFC 3396). */
  readonly options?: ReadonlyArray<readonly [code: number, value: Uint8Array]>;
}

/** Builds a DHCP message (the UDP payload), padded to BOOTP's 300 bytes. */
export function emitDhcp(init: DhcpMessageInit): Uint8Array {
  let length = BOOTP_HEADER_LENGTH + 4 + 3 + 1;
  for (const [, value] of init.options ?? [])
    length += value.length + 2 * Math.max(1, Math.ceil(value.length / 255));
  const out = new Uint8Array(Math.max(BOOTP_MIN_LENGTH, length));
  out[0] = init.op;
  out[1] = 1; // htype: Ethernet
  out[2] = 6; // hlen
  writeUint32(out, 4, init.xid);
  writeUint16(out, 8, init.secs ?? 0);
  writeUint16(out, 10, init.flags ?? 0);
  writeUint32(out, 12, init.ciaddr ?? 0);
  writeUint32(out, 16, init.yiaddr ?? 0);
  writeUint32(out, 20, init.siaddr ?? 0);
  writeUint32(out, 24, init.giaddr ?? 0);
  out.set(init.chaddr.subarray(0, 16), 28);
  writeUint32(out, BOOTP_HEADER_LENGTH, DHCP_MAGIC_COOKIE);
  let at = BOOTP_HEADER_LENGTH + 4;
  out[at++] = DhcpOption.MESSAGE_TYPE;
  out[at++] = 1;
  out[at++] = init.type;
  for (const [code, value] of init.options ?? []) {
    let from = 0;
    do {
      const piece = Math.min(255, value.length - from);
      out[at++] = code;
      out[at++] = piece;
      out.set(value.subarray(from, from + piece), at);
      at += piece;
      from += piece;
    } while (from < value.length);
  }
  out[at] = DhcpOption.END;
  return out;
}

// ---- option values --------------------------------------------------------------------------------

/** A 4-byte option as an address or a 32-bit number; undefined when absent or of another length. */
export function optionUint32(options: ReadonlyMap<number, Uint8Array>, code: number) {
  const value = options.get(code);
  return value !== undefined && value.length === 4 ? readUint32(value, 0) : undefined;
}

export function optionUint16(options: ReadonlyMap<number, Uint8Array>, code: number) {
  const value = options.get(code);
  return value !== undefined && value.length === 2 ? readUint16(value, 0) : undefined;
}

/** A list of addresses (a multiple of 4 bytes, at least one); undefined otherwise. */
export function optionAddresses(
  options: ReadonlyMap<number, Uint8Array>,
  code: number,
): number[] | undefined {
  const value = options.get(code);
  if (value === undefined || value.length === 0 || value.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let at = 0; at < value.length; at += 4) out.push(readUint32(value, at));
  return out;
}

export function uint32Option(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeUint32(out, 0, value);
  return out;
}

export function uint16Option(value: number): Uint8Array {
  const out = new Uint8Array(2);
  writeUint16(out, 0, value);
  return out;
}

/** The prefix length of a contiguous netmask, or undefined (255.0.255.0 is not one). */
export function maskPrefixLength(mask: number): number | undefined {
  const inverted = ~mask >>> 0;
  // Contiguous ones then zeros: the inverted mask plus one is a power of two.
  if ((inverted & (inverted + 1)) !== 0) return undefined;
  let length = 0;
  for (let bit = 31; bit >= 0 && ((mask >>> bit) & 1) === 1; bit--) length++;
  return length;
}
