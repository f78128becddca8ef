// Block errors, each with a stable code. A device rejects with one of these
// (or core's DisconnectedError, ATOLL_DISCONNECTED) and never throws anything else.

import { AtollError, type AtollErrorOptions } from "@atoll/core";

/** The request reaches outside the device, or the sector number is not a non-negative integer. */
export class BlockOutOfRangeError extends AtollError {
  readonly sector: number;
  readonly count: number;
  constructor(sector: number, count: number, sectorCount: number) {
    super(
      "ATOLL_BLOCK_OUT_OF_RANGE",
      `sectors ${sector}..${sector + count} are outside the device (${sectorCount} sectors)`,
    );
    this.sector = sector;
    this.count = count;
  }
}

/** A buffer is empty or not a whole number of sectors. */
export class BlockUnalignedError extends AtollError {
  constructor(length: number, sectorSize: number) {
    super(
      "ATOLL_BLOCK_UNALIGNED",
      `a buffer of ${length} bytes is not a positive multiple of the ${sectorSize}-byte sector`,
    );
  }
}

/** A write or discard on a read-only device. */
export class BlockReadOnlyError extends AtollError {
  constructor(what = "the device") {
    super("ATOLL_BLOCK_READ_ONLY", `${what} is read-only`);
  }
}

/** The host failed an I/O request (EIO, ENOSPC on a sparse file, ...); `cause` holds its error. */
export class BlockIoError extends AtollError {
  constructor(message: string, options?: AtollErrorOptions) {
    super("ATOLL_BLOCK_IO", message, options);
  }
}

/** The image is already open read-write by another unikernel (or by this one). */
export class BlockLockedError extends AtollError {
  readonly path: string;
  constructor(path: string, holder?: string) {
    super(
      "ATOLL_BLOCK_LOCKED",
      `${path} is already open read-write${holder === undefined ? "" : ` by ${holder}`}`,
    );
    this.path = path;
  }
}

/** Options given to a driver or combinator do not describe a usable device. */
export class BlockConfigError extends AtollError {
  constructor(message: string) {
    super("ATOLL_BLOCK_CONFIG", message);
  }
}
