// Combinators: devices built on another device. Each takes a Block device
// (for library code and tests) or a Block driver (for bindings), and checks
// every request against its own view before passing it down.
//
//   slice(fileBlock({ path }), { start: 2048, count: 8192 })   // a partition
//   readOnly(memoryBlock({ disk }))
//   cache(fileBlock({ path }), { maxBytes: 8 << 20 })

import {
  type ArgsSpec,
  DisconnectedError,
  type Driver,
  driver,
  isDriver,
  type NeedsSpec,
} from "@atoll/core";
import { BlockConfigError, BlockReadOnlyError } from "./errors.js";
import { bufferList, checkRange, checkRequest } from "./io.js";
import { Block, type BlockInfo, type SectorBuffers } from "./signature.js";

/** A Block driver, whatever it needs. */
export type BlockDriver<N extends NeedsSpec = NeedsSpec, A extends ArgsSpec = ArgsSpec> = Driver<
  typeof Block,
  N,
  A
>;

/** A device that wraps another and can be closed without closing the one below. */
export interface WrappedBlock extends Block {
  /** Disconnects this view: later operations reject with ATOLL_DISCONNECTED. */
  close(): void;
}

/**
 * Lifts a device-level wrapper to drivers: the result connects `inner`, wraps
 * its device, and on disconnect closes the wrapper and then disconnects `inner`.
 */
export function wrapDriver<N extends NeedsSpec, A extends ArgsSpec>(
  inner: BlockDriver<N, A>,
  name: string,
  wrap: (block: Block) => WrappedBlock,
): BlockDriver<N, A> {
  const below = new WeakMap<Block, Block>();
  return driver({
    name: `${name}(${inner.name})`,
    provides: Block,
    needs: inner.needs,
    args: inner.args,
    async connect(devices, args, context) {
      const device = await inner.connect(devices, args, context);
      const wrapped = wrap(device);
      below.set(wrapped, device);
      return wrapped;
    },
    async disconnect(wrapped) {
      (wrapped as WrappedBlock).close();
      const device = below.get(wrapped);
      if (device !== undefined) await inner.disconnect?.(device);
    },
  }) as BlockDriver<N, A>;
}

abstract class BlockView implements WrappedBlock {
  #closed = false;
  abstract info(): BlockInfo;
  abstract read(sector: number, buffers: SectorBuffers): Promise<void>;
  abstract write(sector: number, buffers: SectorBuffers): Promise<void>;
  abstract flush(): Promise<void>;
  abstract discard(sector: number, count: number): Promise<void>;
  close(): void {
    this.#closed = true;
  }
  protected checkOpen(): void {
    if (this.#closed) throw new DisconnectedError(this.describe());
  }
  protected describe(): string {
    return "block device";
  }
}

// ---- slice ---------------------------------------------------------------------------------

export interface SliceWindow {
  /** First sector of the window on the device below. */
  readonly start: number;
  /** Sectors in the window (default: to the end of the device). */
  readonly count?: number;
}

class SliceBlock extends BlockView {
  readonly #inner: Block;
  readonly #start: number;
  readonly #info: BlockInfo;

  constructor(inner: Block, window: SliceWindow) {
    super();
    const below = inner.info();
    const count = window.count ?? below.sectorCount - window.start;
    if (
      !Number.isSafeInteger(window.start) ||
      !Number.isSafeInteger(count) ||
      window.start < 0 ||
      count < 0 ||
      window.start + count > below.sectorCount
    ) {
      throw new BlockConfigError(
        `slice ${window.start}+${count} does not fit a device of ${below.sectorCount} sectors`,
      );
    }
    this.#inner = inner;
    this.#start = window.start;
    this.#info = Object.freeze({
      sectorSize: below.sectorSize,
      sectorCount: count,
      readWrite: below.readWrite,
    });
  }

  info(): BlockInfo {
    return this.#info;
  }
  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.checkOpen();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#inner.read(this.#start + sector, list);
  }
  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.checkOpen();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#inner.write(this.#start + sector, list);
  }
  async flush(): Promise<void> {
    this.checkOpen();
    await this.#inner.flush();
  }
  async discard(sector: number, count: number): Promise<void> {
    this.checkOpen();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    checkRange(this.#info, sector, count);
    await this.#inner.discard(this.#start + sector, count);
  }
  protected override describe(): string {
    return "block slice";
  }
}

/** A window of another device, e.g. a partition: sector 0 is `start` below. */
export function slice(block: Block, window: SliceWindow): WrappedBlock;
export function slice<N extends NeedsSpec, A extends ArgsSpec>(
  inner: BlockDriver<N, A>,
  window: SliceWindow,
): BlockDriver<N, A>;
export function slice(x: Block | BlockDriver, window: SliceWindow): WrappedBlock | BlockDriver {
  return isDriver(x)
    ? wrapDriver(x as BlockDriver, "block.slice", (b) => new SliceBlock(b, window))
    : new SliceBlock(x, window);
}

// ---- readOnly ------------------------------------------------------------------------------

class ReadOnlyBlock extends BlockView {
  readonly #inner: Block;
  readonly #info: BlockInfo;
  constructor(inner: Block) {
    super();
    this.#inner = inner;
    this.#info = Object.freeze({ ...inner.info(), readWrite: false });
  }
  info(): BlockInfo {
    return this.#info;
  }
  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.checkOpen();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#inner.read(sector, list);
  }
  async write(): Promise<void> {
    this.checkOpen();
    throw new BlockReadOnlyError();
  }
  async flush(): Promise<void> {
    this.checkOpen();
  }
  async discard(): Promise<void> {
    this.checkOpen();
    throw new BlockReadOnlyError();
  }
  protected override describe(): string {
    return "read-only block view";
  }
}

/** The same device with writes and discards refused (ATOLL_BLOCK_READ_ONLY). */
export function readOnly(block: Block): WrappedBlock;
export function readOnly<N extends NeedsSpec, A extends ArgsSpec>(
  inner: BlockDriver<N, A>,
): BlockDriver<N, A>;
export function readOnly(x: Block | BlockDriver): WrappedBlock | BlockDriver {
  return isDriver(x)
    ? wrapDriver(x as BlockDriver, "block.read-only", (b) => new ReadOnlyBlock(b))
    : new ReadOnlyBlock(x);
}

// ---- cache ---------------------------------------------------------------------------------

export interface CacheOptions {
  /** Most bytes of sector data kept (default 4 MiB). */
  readonly maxBytes?: number;
}

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly cachedSectors: number;
}

/** A bounded LRU read cache; writes go through to the device and update the cache. */
export class CachedBlock extends BlockView {
  readonly #inner: Block;
  readonly #info: BlockInfo;
  readonly #capacity: number;
  // Insertion order is recency order: a hit moves the sector to the end.
  readonly #sectors = new Map<number, Uint8Array>();
  // Bumped by every write and discard; a read only fills the cache if no write overtook it.
  #generation = 0;
  #hits = 0;
  #misses = 0;

  constructor(inner: Block, options: CacheOptions = {}) {
    super();
    this.#inner = inner;
    this.#info = inner.info();
    const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new BlockConfigError(`cache size ${maxBytes} is not a non-negative integer`);
    }
    this.#capacity = Math.floor(maxBytes / this.#info.sectorSize);
  }

  get stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, cachedSectors: this.#sectors.size };
  }

  info(): BlockInfo {
    return this.#info;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.checkOpen();
    const { buffers: list, count } = checkRequest(this.#info, sector, buffers);
    const size = this.#info.sectorSize;
    const generation = this.#generation;
    // Where sector i of the request lands: buffer and offset.
    const target = (i: number): [Uint8Array, number] => {
      let at = i * size;
      for (const b of list) {
        if (at < b.length) return [b, at];
        at -= b.length;
      }
      throw new RangeError("sector outside the request");
    };
    let runStart = -1;
    const runs: Array<[number, number]> = [];
    for (let i = 0; i < count; i++) {
      const cached = this.#sectors.get(sector + i);
      if (cached !== undefined) {
        this.#hits++;
        this.#sectors.delete(sector + i);
        this.#sectors.set(sector + i, cached);
        const [b, at] = target(i);
        b.set(cached, at);
        if (runStart >= 0) {
          runs.push([runStart, i - runStart]);
          runStart = -1;
        }
      } else {
        this.#misses++;
        if (runStart < 0) runStart = i;
      }
    }
    if (runStart >= 0) runs.push([runStart, count - runStart]);
    for (const [first, n] of runs) {
      const data = new Uint8Array(n * size);
      await this.#inner.read(sector + first, data);
      const keep = this.#generation === generation;
      for (let j = 0; j < n; j++) {
        const piece = data.subarray(j * size, (j + 1) * size);
        const [b, at] = target(first + j);
        b.set(piece, at);
        if (keep) this.#remember(sector + first + j, piece);
      }
    }
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.checkOpen();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    const { buffers: list, count } = checkRequest(this.#info, sector, buffers);
    this.#generation++;
    this.#forget(sector, count);
    try {
      await this.#inner.write(sector, list);
    } finally {
      this.#generation++;
      this.#forget(sector, count);
    }
    const size = this.#info.sectorSize;
    let s = sector;
    for (const b of bufferList(list)) {
      for (let at = 0; at < b.length; at += size) this.#remember(s++, b.subarray(at, at + size));
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.#inner.flush();
  }

  async discard(sector: number, count: number): Promise<void> {
    this.checkOpen();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    checkRange(this.#info, sector, count);
    this.#generation++;
    this.#forget(sector, count);
    try {
      await this.#inner.discard(sector, count);
    } finally {
      this.#generation++;
      this.#forget(sector, count);
    }
  }

  #remember(sector: number, data: Uint8Array): void {
    if (this.#capacity === 0) return;
    this.#sectors.delete(sector);
    this.#sectors.set(sector, data.slice());
    while (this.#sectors.size > this.#capacity) {
      const oldest = this.#sectors.keys().next().value as number;
      this.#sectors.delete(oldest);
    }
  }

  #forget(sector: number, count: number): void {
    if (count > this.#sectors.size) {
      for (const s of this.#sectors.keys())
        if (s >= sector && s < sector + count) this.#sectors.delete(s);
    } else {
      for (let s = sector; s < sector + count; s++) this.#sectors.delete(s);
    }
  }

  protected override describe(): string {
    return "cached block device";
  }
}

/** A bounded LRU read cache in front of a device (write-through). */
export function cache(block: Block, options?: CacheOptions): CachedBlock;
export function cache<N extends NeedsSpec, A extends ArgsSpec>(
  inner: BlockDriver<N, A>,
  options?: CacheOptions,
): BlockDriver<N, A>;
export function cache(x: Block | BlockDriver, options?: CacheOptions): CachedBlock | BlockDriver {
  return isDriver(x)
    ? wrapDriver(x as BlockDriver, "block.cache", (b) => new CachedBlock(b, options))
    : new CachedBlock(x, options);
}
