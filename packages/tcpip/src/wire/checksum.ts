// The Internet checksum (RFC 1071): the ones' complement of the ones'
// complement sum of 16-bit big-endian words. Sums are kept as plain numbers
// and folded at the end, so a pseudo-header and a payload can be summed apart.

/** Adds the 16-bit words of bytes[offset, offset+length) to `sum` (unfolded). */
export function sumWords(bytes: Uint8Array, offset: number, length: number, sum = 0): number {
  let i = offset;
  const end = offset + length;
  // Four words per iteration; the running sum stays far below 2^53 for any frame.
  for (; i + 7 < end; i += 8) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!);
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
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
