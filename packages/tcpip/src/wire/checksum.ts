// The Internet checksum (RFC 1071): the ones' complement of the ones'
// complement sum of 16-bit big-endian words. Sums are kept as plain numbers
// and folded at the end, so a pseudo-header and a payload can be summed apart.
//
// Every received TCP and UDP payload is summed once to verify it and every
// sent one once to fill it in, so this is the stack's hottest loop. Runs of
// 64 bytes and more are summed by a tiny WebAssembly module with 128-bit SIMD
// (the bytes are copied into its memory first, a native memcpy: a whole frame
// when the run is most of it, which spares making a view of the run); where
// WebAssembly or its SIMD is unavailable, a JavaScript loop reads 32-bit words
// through a DataView. The ones' complement sum does not depend on byte order
// (RFC 1071 §2(B)): the module sums little-endian words and the result is
// byte-swapped once.

// The module, assembled by hand from this text (WebAssembly 2.0 with SIMD):
//
// (module
//   (memory (export "m") 2)
//   (func (export "s") (param $p i32) (param $len i32) (result i32)
//     (local $end i32) (local $acc v128) (local $acc2 v128) (local $sum i64)
//     (local.set $end (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -32))))
//     (local.set $len (i32.add (local.get $p) (local.get $len)))          ;; from here: the end
//     (block (loop                                                        ;; 32 bytes a turn:
//       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))              ;; adjacent 16-bit lanes
//       (local.set $acc (i32x4.add (local.get $acc)                       ;; widened into 32-bit
//         (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $p)))))    ;; sums, no overflow
//       (local.set $acc2 (i32x4.add (local.get $acc2)                     ;; below 2^15 turns
//         (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 (local.get $p)))))
//       (local.set $p (i32.add (local.get $p) (i32.const 32)))
//       (br 0)))
//     (if (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $len)) (then
//       (local.set $acc (i32x4.add (local.get $acc)
//         (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $p)))))
//       (local.set $p (i32.add (local.get $p) (i32.const 16)))))
//     (local.set $acc (i32x4.add (local.get $acc) (local.get $acc2)))
//     (local.set $sum (i64.add (i64.add (i64.add
//       (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $acc)))
//       (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $acc))))
//       (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $acc))))
//       (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $acc)))))
//     (block (loop                                                        ;; the last 16-bit words
//       (br_if 1 (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $len)))
//       (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (i32.load16_u (local.get $p)))))
//       (local.set $p (i32.add (local.get $p) (i32.const 2)))
//       (br 0)))
//     (if (i32.lt_u (local.get $p) (local.get $len)) (then                ;; an odd last byte
//       (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (i32.load8_u (local.get $p)))))))
//     (block (loop                                                        ;; fold to 16 bits
//       (br_if 1 (i64.le_u (local.get $sum) (i64.const 0xffff)))
//       (local.set $sum (i64.add (i64.and (local.get $sum) (i64.const 0xffff))
//                                (i64.shr_u (local.get $sum) (i64.const 16))))
//       (br 0)))
//     (i32.wrap_i64 (local.get $sum))))
const WASM_BYTES = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 5, 3, 1, 0, 2, 7, 9, 2,
  1, 109, 2, 0, 1, 115, 0, 0, 10, 241, 1, 1, 238, 1, 3, 1, 127, 2, 123, 1, 126, 32, 0, 32, 1, 65,
  96, 113, 106, 33, 2, 32, 0, 32, 1, 106, 33, 1, 2, 64, 3, 64, 32, 0, 32, 2, 79, 13, 1, 32, 3, 32,
  0, 253, 0, 0, 0, 253, 127, 253, 174, 1, 33, 3, 32, 4, 32, 0, 253, 0, 0, 16, 253, 127, 253, 174, 1,
  33, 4, 32, 0, 65, 32, 106, 33, 0, 12, 0, 11, 11, 32, 0, 65, 16, 106, 32, 1, 77, 4, 64, 32, 3, 32,
  0, 253, 0, 0, 0, 253, 127, 253, 174, 1, 33, 3, 32, 0, 65, 16, 106, 33, 0, 11, 32, 3, 32, 4, 253,
  174, 1, 33, 3, 32, 3, 253, 27, 0, 173, 32, 3, 253, 27, 1, 173, 124, 32, 3, 253, 27, 2, 173, 124,
  32, 3, 253, 27, 3, 173, 124, 33, 5, 2, 64, 3, 64, 32, 0, 65, 1, 106, 32, 1, 79, 13, 1, 32, 5, 32,
  0, 47, 0, 0, 173, 124, 33, 5, 32, 0, 65, 2, 106, 33, 0, 12, 0, 11, 11, 32, 0, 32, 1, 73, 4, 64,
  32, 5, 32, 0, 45, 0, 0, 173, 124, 33, 5, 11, 2, 64, 3, 64, 32, 5, 66, 255, 255, 3, 88, 13, 1, 32,
  5, 66, 255, 255, 3, 131, 32, 5, 66, 16, 136, 124, 33, 5, 12, 0, 11, 11, 32, 5, 167, 11,
];

/** Shortest run worth copying into the module's memory. */
const WASM_MIN = 64;
/** The module's memory: two 64 KiB pages (every IPv4 payload fits). */
const WASM_MAX = 2 * 65536;
/** Bytes outside the summed run that may be copied along rather than making a view of the run. */
const WASM_SLACK = 512;

let wasmMemory: Uint8Array | undefined;
let wasmSum: ((at: number, length: number) => number) | undefined;
/** False once loading failed or `useWasmChecksum(false)` turned the module off. */
let wasmEnabled = true;

/** Instantiates the module once (synchronously: it is 281 bytes). */
function loadWasm(): boolean {
  try {
    const wa = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
    const bytes = new Uint8Array(WASM_BYTES);
    if (wa === undefined || !wa.validate(bytes)) {
      wasmEnabled = false;
      return false;
    }
    const exports = new wa.Instance(new wa.Module(bytes)).exports as {
      m: WebAssembly.Memory;
      s: (at: number, length: number) => number;
    };
    wasmMemory = new Uint8Array(exports.m.buffer);
    wasmSum = exports.s;
    return true;
  } catch {
    // No SIMD, or a host that forbids compiling WebAssembly: the JavaScript loop does it.
    wasmEnabled = false;
    return false;
  }
}

/**
 * Turns the WebAssembly module off or back on (tests run both paths; the
 * results are identical). Returns whether it is in use.
 */
export function useWasmChecksum(enabled: boolean): boolean {
  if (!enabled) {
    wasmEnabled = false;
    return false;
  }
  wasmEnabled = true;
  return wasmSum !== undefined || loadWasm();
}

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
  if (length >= WASM_MIN && length <= WASM_MAX && wasmEnabled) {
    const memory = wasmMemory;
    if (memory !== undefined || loadWasm()) {
      let le: number;
      if (bytes.length - length <= WASM_SLACK && bytes.length <= WASM_MAX) {
        // Copy the whole array (a frame around a segment, say): no view to create.
        (memory ?? wasmMemory!).set(bytes);
        le = wasmSum!(offset, length);
      } else {
        (memory ?? wasmMemory!).set(bytes.subarray(offset, offset + length));
        le = wasmSum!(0, length);
      }
      return sum + (((le & 0xff) << 8) | (le >>> 8));
    }
  }
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
