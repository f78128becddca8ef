// Byte-addressed access to a Block device for formats whose units are not the
// device's sectors (tar's 512-byte blocks on a 4 KiB-sector disk, log records):
// reads cover whole sectors; writes read-modify-write a partial first and last sector.

import type { Block } from "@atoll/block";

export class BlockBytes {
  readonly block: Block;
  readonly sectorSize: number;
  /** Device size in bytes. */
  readonly size: number;

  constructor(block: Block) {
    const info = block.info();
    this.block = block;
    this.sectorSize = info.sectorSize;
    this.size = info.sectorSize * info.sectorCount;
  }

  /** `length` bytes from `offset` (a view of a fresh buffer). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const s = this.sectorSize;
    const first = Math.floor(offset / s);
    const last = Math.ceil((offset + length) / s);
    const buffer = new Uint8Array((last - first) * s);
    await this.block.read(first, buffer);
    const at = offset - first * s;
    return buffer.subarray(at, at + length);
  }

  /** Writes `data` at `offset`, keeping the other bytes of the sectors it touches. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const s = this.sectorSize;
    const first = Math.floor(offset / s);
    const last = Math.ceil((offset + data.length) / s);
    if (offset % s === 0 && data.length % s === 0) {
      await this.block.write(first, data);
      return;
    }
    const buffer = new Uint8Array((last - first) * s);
    const at = offset - first * s;
    if (at !== 0) await this.block.read(first, buffer.subarray(0, s));
    const end = at + data.length;
    if (end % s !== 0 && (last - 1 > first || at === 0)) {
      await this.block.read(last - 1, buffer.subarray(buffer.length - s));
    }
    buffer.set(data, at);
    await this.block.write(first, buffer);
  }
}
