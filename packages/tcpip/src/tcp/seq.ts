// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Numbers are kept as
// unsigned 32-bit values in plain numbers; comparisons look at the signed
// 32-bit difference, valid while the two values are less than 2^31 apart.

/** a < b in sequence space. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
/** a <= b in sequence space. */
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
/** a > b in sequence space. */
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
/** a >= b in sequence space. */
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
/** a - b as a signed 32-bit distance. */
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
/** a + n, wrapped to an unsigned 32-bit value. */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
/** The later of two sequence numbers. */
export const seqMax = (a: number, b: number): number => (((a - b) | 0) >= 0 ? a : b);
/** The earlier of two sequence numbers. */
export const seqMin = (a: number, b: number): number => (((a - b) | 0) <= 0 ? a : b);
