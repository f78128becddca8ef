// The block device behind `--block:SLOT=PATH`: a disk image file, read and
// written with positional I/O, flushed with fdatasync. Stands in for
// @atoll/block/node's file driver until it lands on main; the boundary does
// not change when the tender switches to it.

import { type FileHandle, open } from "node:fs/promises";
import { AtollError } from "@atoll/core";
import type { Block, BlockInfo, SectorBuffers } from "../image/devices.js";

const SECTOR = 512;

export class FileImageBlock implements Block {
  private constructor(
    private readonly file: FileHandle,
    private readonly information: BlockInfo,
  ) {}

  static async open(path: string, readOnly = false): Promise<FileImageBlock> {
    const file = await open(path, readOnly ? "r" : "r+");
    const { size } = await file.stat();
    return new FileImageBlock(file, {
      sectorSize: SECTOR,
      sectorCount: Math.floor(size / SECTOR),
      readWrite: !readOnly,
    });
  }

  info(): BlockInfo {
    return this.information;
  }

  #list(sector: number, buffers: SectorBuffers): Uint8Array[] {
    const list = buffers instanceof Uint8Array ? [buffers] : [...buffers];
    const bytes = list.reduce((n, b) => n + b.length, 0);
    if (list.some((b) => b.length === 0 || b.length % SECTOR !== 0))
      throw new AtollError("ATOLL_BLOCK_UNALIGNED", "buffers must be whole sectors");
    if (sector < 0 || sector + bytes / SECTOR > this.information.sectorCount)
      throw new AtollError("ATOLL_BLOCK_OUT_OF_RANGE", "outside the device");
    return list;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    let at = sector * SECTOR;
    for (const b of this.#list(sector, buffers)) {
      let done = 0;
      while (done < b.length) {
        const { bytesRead } = await this.file.read(b, done, b.length - done, at + done);
        if (bytesRead === 0) b.fill(0, done);
        done += bytesRead === 0 ? b.length - done : bytesRead;
      }
      at += b.length;
    }
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    if (!this.information.readWrite) throw new AtollError("ATOLL_BLOCK_READ_ONLY", "read-only");
    let at = sector * SECTOR;
    for (const b of this.#list(sector, buffers)) {
      let done = 0;
      while (done < b.length) {
        const { bytesWritten } = await this.file.write(b, done, b.length - done, at + done);
        done += bytesWritten;
      }
      at += b.length;
    }
  }

  async flush(): Promise<void> {
    if (this.information.readWrite) await this.file.datasync();
  }

  async discard(sector: number, count: number): Promise<void> {
    if (!this.information.readWrite) throw new AtollError("ATOLL_BLOCK_READ_ONLY", "read-only");
    if (sector < 0 || count < 0 || sector + count > this.information.sectorCount)
      throw new AtollError("ATOLL_BLOCK_OUT_OF_RANGE", "outside the device");
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
