// The memory block device: a sparse in-memory disk. A MemoryDisk outlives the
// devices opened on it, like a disk image outlives a process, so a test can
// "restart" a unikernel on the same disk, clone it at a crash point, or hand
// its bytes to another tool.

import { DisconnectedError, driver } from "@atoll/core";
import { BlockConfigError, BlockReadOnlyError } from "./errors.js";
import { checkRange, checkRequest, isPowerOfTwo } from "./io.js";
import { Block, type BlockInfo, type SectorBuffers } from "./signature.js";

const CHUNK_BYTES = 64 * 1024;

export interface MemoryDiskOptions {
  /** Bytes per sector, a power of two (default 512). */
  readonly sectorSize?: number;
  readonly sectorCount: number;
}

/** Sectors in memory, allocated in 64 KiB chunks on first write; unwritten sectors read as zeros. */
export class MemoryDisk {
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly #chunkSectors: number;
  readonly #chunks = new Map<number, Uint8Array>();

  constructor(options: MemoryDiskOptions) {
    const sectorSize = options.sectorSize ?? 512;
    if (!isPowerOfTwo(sectorSize)) {
      throw new BlockConfigError(`sector size ${sectorSize} is not a power of two`);
    }
    if (!Number.isSafeInteger(options.sectorCount) || options.sectorCount < 0) {
      throw new BlockConfigError(
        `sector count ${options.sectorCount} is not a non-negative integer`,
      );
    }
    this.sectorSize = sectorSize;
    this.sectorCount = options.sectorCount;
    this.#chunkSectors = Math.max(1, CHUNK_BYTES / sectorSize);
  }

  /** A disk holding a copy of `image`, whose length must be a multiple of `sectorSize`. */
  static from(image: Uint8Array, sectorSize = 512): MemoryDisk {
    if (image.length % sectorSize !== 0) {
      throw new BlockConfigError(
        `an image of ${image.length} bytes is not a whole number of ${sectorSize}-byte sectors`,
      );
    }
    const disk = new MemoryDisk({ sectorSize, sectorCount: image.length / sectorSize });
    if (image.length > 0) disk.writeSectors(0, image);
    return disk;
  }

  get info(): BlockInfo {
    return { sectorSize: this.sectorSize, sectorCount: this.sectorCount, readWrite: true };
  }

  /** Bytes held in memory (allocated chunks). */
  get allocatedBytes(): number {
    let n = 0;
    for (const c of this.#chunks.values()) n += c.length;
    return n;
  }

  /** Copies sectors starting at `sector` into `out` (a whole number of sectors). */
  readSectors(sector: number, out: Uint8Array): void {
    checkRequest(this.info, sector, out);
    this.#each(sector, out.length, (chunk, at, from, length) => {
      if (chunk === undefined) out.fill(0, at, at + length);
      else out.set(chunk.subarray(from, from + length), at);
    });
  }

  /** Copies `data` (a whole number of sectors) to the sectors starting at `sector`. */
  writeSectors(sector: number, data: Uint8Array): void {
    checkRequest(this.info, sector, data);
    this.#each(sector, data.length, (chunk, at, from, length, index) => {
      let c = chunk;
      if (c === undefined) {
        c = new Uint8Array(this.#chunkBytes(index));
        this.#chunks.set(index, c);
      }
      c.set(data.subarray(at, at + length), from);
    });
  }

  /** Zeroes `count` sectors, releasing whole chunks. */
  discardSectors(sector: number, count: number): void {
    checkRange(this.info, sector, count);
    this.#each(sector, count * this.sectorSize, (chunk, _at, from, length, index) => {
      if (chunk === undefined) return;
      if (from === 0 && length === chunk.length) this.#chunks.delete(index);
      else chunk.fill(0, from, from + length);
    });
  }

  /** An independent copy of the disk. */
  clone(): MemoryDisk {
    const copy = new MemoryDisk({ sectorSize: this.sectorSize, sectorCount: this.sectorCount });
    for (const [index, chunk] of this.#chunks) copy.#chunks.set(index, chunk.slice());
    return copy;
  }

  /** The whole disk as one array (sectorSize × sectorCount bytes). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.sectorSize * this.sectorCount);
    const chunkBytes = this.#chunkSectors * this.sectorSize;
    for (const [index, chunk] of this.#chunks) out.set(chunk, index * chunkBytes);
    return out;
  }

  #chunkBytes(index: number): number {
    const first = index * this.#chunkSectors;
    return Math.min(this.#chunkSectors, this.sectorCount - first) * this.sectorSize;
  }

  /** Visits the chunk pieces covering `bytes` bytes from `sector`. */
  #each(
    sector: number,
    bytes: number,
    visit: (
      chunk: Uint8Array | undefined,
      at: number,
      from: number,
      length: number,
      index: number,
    ) => void,
  ): void {
    const chunkBytes = this.#chunkSectors * this.sectorSize;
    let index = Math.floor(sector / this.#chunkSectors);
    let from = (sector - index * this.#chunkSectors) * this.sectorSize;
    let at = 0;
    while (at < bytes) {
      const length = Math.min(bytes - at, chunkBytes - from);
      visit(this.#chunks.get(index), at, from, length, index);
      at += length;
      index++;
      from = 0;
    }
  }
}

export interface MemoryBlockOptions {
  /** The disk to open; by default a new zeroed one of `sectorSize` × `sectorCount`. */
  readonly disk?: MemoryDisk;
  readonly sectorSize?: number;
  /** Default 2048 (1 MiB with 512-byte sectors). */
  readonly sectorCount?: number;
  /** Refuse writes and discards with ATOLL_BLOCK_READ_ONLY. */
  readonly readOnly?: boolean;
}

/** A Block device on a MemoryDisk. Operations complete asynchronously, like a real device's. */
export class MemoryBlock implements Block {
  readonly disk: MemoryDisk;
  readonly #info: BlockInfo;
  #closed = false;

  constructor(disk: MemoryDisk, options: { readonly readOnly?: boolean } = {}) {
    this.disk = disk;
    this.#info = Object.freeze({
      sectorSize: disk.sectorSize,
      sectorCount: disk.sectorCount,
      readWrite: options.readOnly !== true,
    });
  }

  info(): BlockInfo {
    return this.#info;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#open();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    let s = sector;
    for (const b of list) {
      this.disk.readSectors(s, b);
      s += b.length / this.#info.sectorSize;
    }
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#open();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    let s = sector;
    for (const b of list) {
      this.disk.writeSectors(s, b);
      s += b.length / this.#info.sectorSize;
    }
  }

  async flush(): Promise<void> {
    this.#open();
  }

  async discard(sector: number, count: number): Promise<void> {
    this.#open();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    this.disk.discardSectors(sector, count);
  }

  /** Disconnects the device: later operations reject with ATOLL_DISCONNECTED. The disk stays. */
  close(): void {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new DisconnectedError("memory block device");
  }
}

/**
 * The memory block driver. `.disk` is the disk it opens, so a test can inspect
 * it, clone it, or bind a second driver to the same disk after a restart.
 */
export const memoryBlock = (options: MemoryBlockOptions = {}) => {
  const disk =
    options.disk ??
    new MemoryDisk({
      sectorCount: options.sectorCount ?? 2048,
      ...(options.sectorSize === undefined ? {} : { sectorSize: options.sectorSize }),
    });
  const readOnly = options.readOnly === true;
  const d = driver({
    name: "block.memory",
    provides: Block,
    connect: () => new MemoryBlock(disk, { readOnly }),
    disconnect: (device) => (device as MemoryBlock).close(),
  });
  return Object.assign(d, { disk });
};
