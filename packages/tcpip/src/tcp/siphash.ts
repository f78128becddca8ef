// SipHash-2-4 (Aumasson and Bernstein), a keyed pseudo-random function over
// short inputs: the F() of RFC 6528 initial sequence numbers, the SYN cookie
// MAC and per-connection timestamp offsets, as Linux does. 64-bit lanes are
// kept as pairs of 32-bit halves so that nothing allocates.

export class SipHash {
  readonly #k0lo: number;
  readonly #k0hi: number;
  readonly #k1lo: number;
  readonly #k1hi: number;
  // state: v0..v3 as (hi, lo)
  #v0h = 0;
  #v0l = 0;
  #v1h = 0;
  #v1l = 0;
  #v2h = 0;
  #v2l = 0;
  #v3h = 0;
  #v3l = 0;
  /** The high and low 32 bits of the last result. */
  hi = 0;
  lo = 0;

  /** `key` is 16 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError("SipHash key must be 16 bytes");
    this.#k0lo = le32(key, 0);
    this.#k0hi = le32(key, 4);
    this.#k1lo = le32(key, 8);
    this.#k1hi = le32(key, 12);
  }

  /** Hashes bytes[0, length); returns the low 32 bits (both halves are in `hi`/`lo`). */
  hash(bytes: Uint8Array, length = bytes.length): number {
    this.#v0h = (this.#k0hi ^ 0x736f6d65) >>> 0;
    this.#v0l = (this.#k0lo ^ 0x70736575) >>> 0;
    this.#v1h = (this.#k1hi ^ 0x646f7261) >>> 0;
    this.#v1l = (this.#k1lo ^ 0x6e646f6d) >>> 0;
    this.#v2h = (this.#k0hi ^ 0x6c796765) >>> 0;
    this.#v2l = (this.#k0lo ^ 0x6e657261) >>> 0;
    this.#v3h = (this.#k1hi ^ 0x74656462) >>> 0;
    this.#v3l = (this.#k1lo ^ 0x79746573) >>> 0;
    const end = length - (length & 7);
    for (let i = 0; i < end; i += 8) this.#block(le32(bytes, i + 4), le32(bytes, i));
    // Last block: the remaining bytes, little-endian, with the length in the top byte.
    let mlo = 0;
    let mhi = (length & 0xff) << 24;
    const rest = length & 7;
    for (let j = 0; j < rest; j++) {
      const byte = bytes[end + j]!;
      if (j < 4) mlo |= byte << (8 * j);
      else mhi |= byte << (8 * (j - 4));
    }
    this.#block(mhi >>> 0, mlo >>> 0);
    this.#v2l = (this.#v2l ^ 0xff) >>> 0;
    for (let r = 0; r < 4; r++) this.#round();
    this.hi = (this.#v0h ^ this.#v1h ^ this.#v2h ^ this.#v3h) >>> 0;
    this.lo = (this.#v0l ^ this.#v1l ^ this.#v2l ^ this.#v3l) >>> 0;
    return this.lo;
  }

  #block(mh: number, ml: number): void {
    this.#v3h = (this.#v3h ^ mh) >>> 0;
    this.#v3l = (this.#v3l ^ ml) >>> 0;
    this.#round();
    this.#round();
    this.#v0h = (this.#v0h ^ mh) >>> 0;
    this.#v0l = (this.#v0l ^ ml) >>> 0;
  }

  #round(): void {
    let v0h = this.#v0h;
    let v0l = this.#v0l;
    let v1h = this.#v1h;
    let v1l = this.#v1l;
    let v2h = this.#v2h;
    let v2l = this.#v2l;
    let v3h = this.#v3h;
    let v3l = this.#v3l;
    let s: number;
    let t: number;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    s = v0l + v1l;
    v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) >>> 0;
    v0l = s >>> 0;
    t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (t ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    s = v2l + v3l;
    v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) >>> 0;
    v2l = s >>> 0;
    t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (t ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    s = v0l + v3l;
    v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) >>> 0;
    v0l = s >>> 0;
    t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (t ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    s = v2l + v1l;
    v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) >>> 0;
    v2l = s >>> 0;
    t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (t ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
    this.#v0h = v0h;
    this.#v0l = v0l;
    this.#v1h = v1h;
    this.#v1l = v1l;
    this.#v2h = v2h;
    this.#v2l = v2l;
    this.#v3h = v3h;
    this.#v3l = v3l;
  }
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
