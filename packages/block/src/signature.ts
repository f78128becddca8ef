// The Block signature: a fixed-size array of sectors, read and written in
// whole sectors, after MirageOS's Mirage_block. Everything a store needs to be
// crash-safe is here: ordered writes, an explicit flush, and typed errors.

import { type Device, signature } from "@atoll/core";

export interface BlockInfo {
  /** Bytes per sector: a power of two. Every buffer is a whole number of sectors. */
  readonly sectorSize: number;
  /** Sectors on the device; sectors are numbered 0 to sectorCount - 1. */
  readonly sectorCount: number;
  /** False when writes and discards are refused with ATOLL_BLOCK_READ_ONLY. */
  readonly readWrite: boolean;
}

/** One buffer, or several filled (or written) one after the other. */
export type SectorBuffers = Uint8Array | readonly Uint8Array[];

export interface Block extends Device {
  info(): BlockInfo;
  /**
   * Fills `buffers`, in order, from consecutive sectors starting at `sector`.
   * Each buffer's length is a positive multiple of the sector size.
   */
  read(sector: number, buffers: SectorBuffers): Promise<void>;
  /**
   * Writes `buffers`, in order, to consecutive sectors starting at `sector`.
   * The arguments are checked before anything is written: on a rejected call
   * (out of range, unaligned, read-only, disconnected) no sector changes.
   * A write is durable only after a later `flush` resolves.
   */
  write(sector: number, buffers: SectorBuffers): Promise<void>;
  /** Resolves once every write that resolved before the call is durable. */
  flush(): Promise<void>;
  /**
   * Tells the device that `count` sectors from `sector` are unused. Their
   * contents are unspecified until written again (the memory driver zeroes
   * them, the file driver leaves them as they are).
   */
  discard(sector: number, count: number): Promise<void>;
}
export const Block = signature<Block>()("atoll.block/1");
