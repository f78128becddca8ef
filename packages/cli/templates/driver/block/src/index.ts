// __NAME__: a driver providing Block (@atoll/block). It starts as a disk held
// in an array of bytes, to be replaced by your storage (a file, an object
// store, a device). @atoll/block's checks reject a bad request before anything
// is written, as the signature requires. Its tests run the Block conformance
// suite, the same one every in-tree driver passes.

import {
  Block,
  type BlockInfo,
  BlockReadOnlyError,
  checkRange,
  checkRequest,
  type SectorBuffers,
} from "@atoll/block";
import { DisconnectedError, driver } from "@atoll/core";

/** The storage behind the device: replace it with yours. */
export class __Name__Storage {
  readonly bytes: Uint8Array;
  constructor(
    readonly sectorSize: number,
    readonly sectorCount: number,
  ) {
    this.bytes = new Uint8Array(sectorSize * sectorCount);
  }
}

export class __Name__Block implements Block {
  readonly #storage: __Name__Storage;
  readonly #info: BlockInfo;
  #open = true;

  constructor(storage: __Name__Storage, options: { readonly readOnly?: boolean } = {}) {
    this.#storage = storage;
    this.#info = Object.freeze({
      sectorSize: storage.sectorSize,
      sectorCount: storage.sectorCount,
      readWrite: options.readOnly !== true,
    });
  }

  info(): BlockInfo {
    return this.#info;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    let at = sector * this.#info.sectorSize;
    for (const buffer of list) {
      buffer.set(this.#storage.bytes.subarray(at, at + buffer.length));
      at += buffer.length;
    }
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    let at = sector * this.#info.sectorSize;
    for (const buffer of list) {
      this.#storage.bytes.set(buffer, at);
      at += buffer.length;
    }
  }

  /** Memory is as durable as it gets here; a real device makes written sectors durable. */
  async flush(): Promise<void> {
    this.#check();
  }

  async discard(sector: number, count: number): Promise<void> {
    this.#check();
    checkRange(this.#info, sector, count);
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    const size = this.#info.sectorSize;
    this.#storage.bytes.fill(0, sector * size, (sector + count) * size);
  }

  close(): void {
    this.#open = false;
  }

  #check(): void {
    if (!this.#open) throw new DisconnectedError("__NAME__ block device");
  }
}

export const __camel__ = (
  storage: __Name__Storage,
  options: { readonly readOnly?: boolean } = {},
) =>
  driver({
    name: "block.__NAME__",
    provides: Block,
    connect: () => new __Name__Block(storage, options),
    disconnect: (block) => (block as __Name__Block).close(),
  });
