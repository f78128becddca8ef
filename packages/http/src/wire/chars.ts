// Byte classes of RFC 9110/9112 as one lookup table, so every validation is
// a table read per byte: no regular expressions ever run on peer input.

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;

/** tchar (RFC 9110 §5.6.2): method and field-name characters. */
export const TCHAR = 1;
/** field-vchar / SP / HTAB (RFC 9110 §5.5), obs-text included. */
export const FIELD = 2;
/** request-target characters we accept: visible ASCII (RFC 3986 plus what browsers send raw). */
export const TARGET = 4;
/** HEXDIG. */
export const HEX = 8;
/** reason-phrase characters: HTAB / SP / VCHAR / obs-text. */
export const REASON = 16;
/** Characters allowed in a Host header value: reg-name, IP literal, port. */
export const HOST = 32;

export const CLASS = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let i = 0; i < tchar.length; i++) table[tchar.charCodeAt(i)]! |= TCHAR;
  for (let c = 0x21; c <= 0x7e; c++) table[c]! |= FIELD | TARGET | REASON;
  for (let c = 0x80; c <= 0xff; c++) table[c]! |= FIELD | REASON;
  table[SP]! |= FIELD | REASON;
  table[HTAB]! |= FIELD | REASON;
  const hex = "0123456789abcdefABCDEF";
  for (let i = 0; i < hex.length; i++) table[hex.charCodeAt(i)]! |= HEX;
  const host = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%";
  for (let i = 0; i < host.length; i++) table[host.charCodeAt(i)]! |= HOST;
  return table;
})();

export function hexValue(byte: number): number {
  if (byte <= 0x39) return byte - 0x30;
  return (byte | 0x20) - 0x57;
}

/**
 * Decodes bytes as ISO-8859-1 (each byte one UTF-16 unit): what a header
 * ByteString is. TextDecoder("latin1") is windows-1252, which is not.
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= 0) return "";
  if (length < 64) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  let s = "";
  for (let i = start; i < end; i += 8192) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[],
    );
  }
  return s;
}

/** ASCII-lowercases a token's bytes into a string. */
export function lowerLatin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return s;
}

const encoder = /* @__PURE__ */ new TextEncoder();

/**
 * Writes `text` as ISO-8859-1 into `out` at `offset`; returns the new
 * offset, or -1 when it does not fit. Header values are ByteStrings, so no
 * code unit exceeds 0xff.
 */
export function writeLatin1(text: string, out: Uint8Array, offset: number): number {
  if (offset + text.length > out.length) return -1;
  // Fast path: pure ASCII encodes identically in UTF-8.
  const { read, written } = encoder.encodeInto(text, out.subarray(offset));
  if (read === text.length && written === text.length) return offset + written;
  for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i) & 0xff;
  return offset + text.length;
}
