// The log store's on-disk format (see the package README for the picture):
// two superblock slots, then two halves of the data area; records appended
// to the active half. All integers little-endian.

import { crc32c } from "./crc32c.js";

export const MAGIC = "ATOLLKV1";
export const VERSION = 1;
export const SUPERBLOCK_BYTES = 64;
export const RECORD_HEADER = 40;

export const RECORD_SET = 1;
export const RECORD_REMOVE = 2;
export const RECORD_RENAME = 3;
export const FLAG_BATCH_START = 1;

const magicBytes = new TextEncoder().encode(MAGIC);

export interface Superblock {
  readonly sectorSize: number;
  readonly sectorCount: number;
  /** Sectors in each half of the data area. */
  readonly halfSectors: number;
  /** Raised at each session's first write and at each compaction. */
  readonly epoch: number;
  readonly activeHalf: 0 | 1;
  /** The epoch at which the active half was started (records before it are stale). */
  readonly baseEpoch: number;
  /** A number fixed when the store is formatted; records of another format are stale. */
  readonly formatId: number;
  /** The log's end at the last clean close, or 0 when unknown (a session is open or crashed). */
  readonly cleanEnd: number;
}

export function encodeSuperblock(sb: Superblock, sectorSize: number): Uint8Array {
  const out = new Uint8Array(sectorSize);
  const v = new DataView(out.buffer);
  out.set(magicBytes, 0);
  v.setUint32(8, VERSION, true);
  v.setUint32(12, sb.sectorSize, true);
  v.setFloat64(16, sb.sectorCount, true);
  v.setUint32(24, sb.epoch, true);
  v.setUint32(28, sb.activeHalf, true);
  v.setUint32(32, sb.baseEpoch, true);
  v.setUint32(36, sb.formatId, true);
  v.setUint32(40, sb.halfSectors, true);
  v.setFloat64(44, sb.cleanEnd, true);
  v.setUint32(60, crc32c(out.subarray(0, 60)), true);
  return out;
}

export type SuperblockReading =
  | { readonly kind: "valid"; readonly sb: Superblock }
  | { readonly kind: "foreign" }
  | { readonly kind: "damaged"; readonly reason: string };

export function decodeSuperblock(bytes: Uint8Array): SuperblockReading {
  for (let i = 0; i < magicBytes.length; i++)
    if (bytes[i] !== magicBytes[i]) return { kind: "foreign" };
  const v = new DataView(bytes.buffer, bytes.byteOffset, SUPERBLOCK_BYTES);
  if (v.getUint32(60, true) !== crc32c(bytes.subarray(0, 60))) {
    return { kind: "damaged", reason: "superblock checksum mismatch" };
  }
  const version = v.getUint32(8, true);
  if (version !== VERSION)
    return { kind: "damaged", reason: `unsupported format version ${version}` };
  const activeHalf = v.getUint32(28, true);
  if (activeHalf > 1) return { kind: "damaged", reason: "superblock names no half" };
  return {
    kind: "valid",
    sb: {
      sectorSize: v.getUint32(12, true),
      sectorCount: v.getFloat64(16, true),
      epoch: v.getUint32(24, true),
      activeHalf: activeHalf as 0 | 1,
      baseEpoch: v.getUint32(32, true),
      formatId: v.getUint32(36, true),
      halfSectors: v.getUint32(40, true),
      cleanEnd: v.getFloat64(44, true),
    },
  };
}

export interface RecordHeader {
  readonly type: number;
  readonly flags: number;
  readonly keyLength: number;
  readonly valueLength: number;
  readonly epoch: number;
  readonly batch: number;
  readonly formatId: number;
  readonly mtime: number;
  readonly prevEnd: number;
}

/** A whole record: header, key, value; the checksum covers everything after itself. */
export function encodeRecord(h: RecordHeader, key: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + key.length + value.length);
  const v = new DataView(out.buffer);
  out[4] = h.type;
  out[5] = h.flags;
  v.setUint16(6, key.length, true);
  v.setUint32(8, value.length, true);
  v.setUint32(12, h.epoch, true);
  v.setUint32(16, h.batch, true);
  v.setUint32(20, h.formatId, true);
  v.setFloat64(24, h.mtime, true);
  v.setFloat64(32, h.prevEnd, true);
  out.set(key, RECORD_HEADER);
  out.set(value, RECORD_HEADER + key.length);
  v.setUint32(0, crc32c(out.subarray(4)), true);
  return out;
}

/** Reads a header's fields (no checks). `bytes` holds at least RECORD_HEADER bytes. */
export function readRecordHeader(bytes: Uint8Array): RecordHeader & { readonly crc: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, RECORD_HEADER);
  return {
    crc: v.getUint32(0, true),
    type: bytes[4]!,
    flags: bytes[5]!,
    keyLength: v.getUint16(6, true),
    valueLength: v.getUint32(8, true),
    epoch: v.getUint32(12, true),
    batch: v.getUint32(16, true),
    formatId: v.getUint32(20, true),
    mtime: v.getFloat64(24, true),
    prevEnd: v.getFloat64(32, true),
  };
}

export function recordChecksumOk(record: Uint8Array): boolean {
  const v = new DataView(record.buffer, record.byteOffset, 4);
  return v.getUint32(0, true) === crc32c(record.subarray(4));
}

/** (epoch, batch) stamps compare lexicographically. */
export function compareStamps(ea: number, ba: number, eb: number, bb: number): number {
  return ea !== eb ? ea - eb : ba - bb;
}
