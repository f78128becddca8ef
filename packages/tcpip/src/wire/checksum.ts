// The Internet checksum (RFC 1071): the ones' complement of the ones'
// complement sum of 16-bit big-endian words. Sums are kept as plain numbers
// and folded at the end, so a pseudo-header and a payload can be summed apart.

// DataViews over recently summed buffers: reading 32-bit words through a
// DataView is several times faster than assembling 16-bit words from bytes.
const views: Array<DataView | undefined> = [undefined, undefined, undefined, undefined];
let nextView = 0;

function viewOf(buffer: ArrayBufferLike): DataView {
  for (let k = 0; k < 4; k++) {
    const v = views[k];
    if (v !== undefined && v.buffer === buffer) return v;
  }
  const v = new DataView(buffer);
  views[nextView] = v;
  nextView = (nextView + 1) & 3;
  return v;
}

/** Adds the 16-bit words of bytes[offset, offset+length) to `sum` (unfolded). */
export function sumWords(bytes: Uint8Array, offset: number, length: number, sum = 0): number {
  if (length < 32) {
    let i = offset;
    const end = offset + length;
    for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
    if (i < end) sum += bytes[i]! << 8;
    return sum;
  }
  const dv = viewOf(bytes.buffer);
  let i = bytes.byteOffset + offset;
  const end = i + length;
  // Sum big-endian 32-bit words; a 32-bit word is congruent to the sum of its two
  // 16-bit halves modulo 0xffff, so folding the total gives the same checksum.
  let s = 0;
  for (; i + 15 < end; i += 16)
    s += dv.getUint32(i) + dv.getUint32(i + 4) + dv.getUint32(i + 8) + dv.getUint32(i + 12);
  for (; i + 3 < end; i += 4) s += dv.getUint32(i);
  sum += (s % 0x10000) + Math.floor(s / 0x10000);
  if (i + 1 < end) {
    sum += dv.getUint16(i);
    i += 2;
  }
  if (i < end) sum += dv.getUint8(i) << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 §3.1, RFC 768). */
export function pseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

export function internetChecksum(
  bytes: Uint8Array,
  offset = 0,
  length = bytes.length - offset,
): number {
  return finishChecksum(sumWords(bytes, offset, length));
}
