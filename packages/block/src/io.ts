// Argument checks shared by every driver and combinator, so that each layer
// rejects a bad request before anything reaches the layer below: on any error
// nothing is written.

import { BlockOutOfRangeError, BlockUnalignedError } from "./errors.js";
import type { BlockInfo, SectorBuffers } from "./signature.js";

/** The buffers of a request as a list. */
export function bufferList(buffers: SectorBuffers): readonly Uint8Array[] {
  return buffers instanceof Uint8Array ? [buffers] : buffers;
}

/**
 * Checks a read or write request against the device and returns its buffers
 * and how many sectors it covers. Throws BlockUnalignedError or BlockOutOfRangeError.
 */
export function checkRequest(
  info: BlockInfo,
  sector: number,
  buffers: SectorBuffers,
): { buffers: readonly Uint8Array[]; count: number } {
  const list = bufferList(buffers);
  let bytes = 0;
  for (const b of list) {
    if (!(b instanceof Uint8Array) || b.length === 0 || b.length % info.sectorSize !== 0) {
      throw new BlockUnalignedError(
        b instanceof Uint8Array ? b.length : Number.NaN,
        info.sectorSize,
      );
    }
    bytes += b.length;
  }
  const count = bytes / info.sectorSize;
  checkRange(info, sector, count);
  return { buffers: list, count };
}

/** Throws BlockOutOfRangeError unless sectors [sector, sector + count) are on the device. */
export function checkRange(info: BlockInfo, sector: number, count: number): void {
  if (
    !Number.isSafeInteger(sector) ||
    !Number.isSafeInteger(count) ||
    sector < 0 ||
    count < 0 ||
    sector + count > info.sectorCount
  ) {
    throw new BlockOutOfRangeError(sector, count, info.sectorCount);
  }
}

/** True when `n` is a power of two (1, 2, 4, ...). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}
