// @atoll/block/node: the file driver. A regular file (a disk image) or a
// block device, accessed with positional I/O; flush is fdatasync; read-write
// opens take an exclusive lock (see lock.ts) so two unikernels cannot write
// one image.

import fs, { constants, promises as fsp } from "node:fs";
import { arg, DisconnectedError, driver } from "@atoll/core";
import { BlockConfigError, BlockIoError, BlockReadOnlyError } from "./errors.js";
import { checkRange, checkRequest, isPowerOfTwo } from "./io.js";
import { acquireImageLock, type ImageLock, type LockMode } from "./lock.js";
import { Block, type BlockInfo, type SectorBuffers } from "./signature.js";

export type { LockMode } from "./lock.js";

export interface FileBlockOptions {
  /** The image file or block device; the default of the `path` runtime argument. */
  readonly path?: string;
  /**
   * Bytes per sector, a power of two. Default 512, or a block device's logical
   * block size; a trailing partial sector of a regular file is not used.
   */
  readonly sectorSize?: number;
  /** Open read-only: writes and discards are refused, no lock is taken, flush does nothing. */
  readonly readOnly?: boolean;
  /** When the file does not exist, create it (sparse) with this many bytes. */
  readonly createSize?: number;
  /**
   * How read-write opens are made exclusive: "auto" (default) is "socket" on
   * Linux and "file" elsewhere; "none" disables the lock.
   */
  readonly lock?: LockMode;
}

export interface FileBlockInfo extends BlockInfo {
  readonly path: string;
  /** "file" for a regular file, "device" for a block device. */
  readonly kind: "file" | "device";
  /** How the image is locked ("none" for read-only opens). */
  readonly lock: "socket" | "file" | "none";
}

/** A Block device on an open file descriptor. */
export class FileBlock implements Block {
  readonly #fd: number;
  readonly #info: FileBlockInfo;
  readonly #lock: ImageLock;
  #closed = false;
  #inflight = 0;
  #idle: (() => void) | undefined;

  private constructor(fd: number, info: FileBlockInfo, lock: ImageLock) {
    this.#fd = fd;
    this.#info = Object.freeze(info);
    this.#lock = lock;
  }

  /** Opens `path`; rejects with ATOLL_BLOCK_LOCKED when another writer holds it. */
  static async open(path: string, options: FileBlockOptions = {}): Promise<FileBlock> {
    const readOnly = options.readOnly === true;
    if (options.sectorSize !== undefined && !isPowerOfTwo(options.sectorSize)) {
      throw new BlockConfigError(`sector size ${options.sectorSize} is not a power of two`);
    }
    let fd: number;
    try {
      fd = await openImage(path, readOnly, options.createSize);
    } catch (error) {
      throw hostError(`cannot open ${path}`, error);
    }
    let lock: ImageLock | undefined;
    try {
      const stat = await fstat(fd);
      let bytes: number;
      let kind: "file" | "device";
      let sectorSize = options.sectorSize ?? 512;
      if (stat.isFile()) {
        kind = "file";
        bytes = Number(stat.size);
      } else if (stat.isBlockDevice()) {
        kind = "device";
        const geometry = await blockDeviceGeometry(stat.rdev);
        bytes = geometry.bytes;
        if (options.sectorSize === undefined) sectorSize = Math.max(512, geometry.logicalBlockSize);
        else if (options.sectorSize < geometry.logicalBlockSize) {
          throw new BlockConfigError(
            `sector size ${options.sectorSize} is below ${path}'s logical block size ${geometry.logicalBlockSize}`,
          );
        }
      } else {
        throw new BlockConfigError(`${path} is neither a regular file nor a block device`);
      }
      lock =
        readOnly || kind === "device"
          ? await acquireImageLock(path, stat, "none")
          : await acquireImageLock(path, stat, options.lock ?? "auto");
      const info: FileBlockInfo = {
        sectorSize,
        sectorCount: Math.floor(bytes / sectorSize),
        readWrite: !readOnly,
        path,
        kind,
        lock: kind === "device" && !readOnly ? "none" : lock.kind,
      };
      return new FileBlock(fd, info, lock);
    } catch (error) {
      await lock?.release().catch(() => {});
      await new Promise<void>((done) => fs.close(fd, () => done()));
      throw error;
    }
  }

  info(): FileBlockInfo {
    return this.#info;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#track(transfer("read", this.#fd, this.#info, list, sector * this.#info.sectorSize));
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    if (!this.#info.readWrite) throw new BlockReadOnlyError(this.#info.path);
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#track(
      transfer("write", this.#fd, this.#info, list, sector * this.#info.sectorSize),
    );
  }

  async flush(): Promise<void> {
    this.#check();
    if (!this.#info.readWrite) return;
    await this.#track(
      new Promise<void>((resolve, reject) =>
        fs.fdatasync(this.#fd, (error) =>
          error ? reject(hostError(`fdatasync ${this.#info.path}`, error)) : resolve(),
        ),
      ),
    );
  }

  /** Checks the range; the sectors keep their contents (Node cannot punch holes). */
  async discard(sector: number, count: number): Promise<void> {
    this.#check();
    if (!this.#info.readWrite) throw new BlockReadOnlyError(this.#info.path);
    checkRange(this.#info, sector, count);
  }

  /** Waits for operations in flight, closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    await new Promise<void>((resolve) => fs.close(this.#fd, () => resolve()));
    await this.#lock.release();
  }

  #check(): void {
    if (this.#closed) throw new DisconnectedError(`block device ${this.#info.path}`);
  }

  async #track<T>(operation: Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await operation;
    } finally {
      if (--this.#inflight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }
}

/**
 * The file block driver. The image path is the `path` runtime argument
 * (`--path=disk.img`, or `--<device>.path=...` when several devices have one),
 * defaulting to `options.path`.
 */
export const fileBlock = (options: FileBlockOptions = {}) =>
  driver({
    name: "block.file",
    provides: Block,
    args: {
      path: arg.string(
        options.path === undefined
          ? { doc: "disk image file or block device" }
          : { doc: "disk image file or block device", default: options.path },
      ),
    },
    connect: (_devices, { path }) => FileBlock.open(path, options),
    disconnect: (device) => (device as FileBlock).close(),
  });

// ---- host I/O ---------------------------------------------------------------------------------

async function openImage(path: string, readOnly: boolean, createSize: number | undefined) {
  const open = (flags: number) =>
    new Promise<number>((resolve, reject) =>
      fs.open(path, flags, 0o644, (error, fd) => (error ? reject(error) : resolve(fd))),
    );
  let flags = readOnly ? constants.O_RDONLY : constants.O_RDWR;
  const existing = await fsp.stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing === undefined && createSize !== undefined && !readOnly) {
    if (!Number.isSafeInteger(createSize) || createSize < 0) {
      throw new BlockConfigError(`createSize ${createSize} is not a non-negative integer`);
    }
    try {
      const fd = await open(constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
      await new Promise<void>((resolve, reject) =>
        fs.ftruncate(fd, createSize, (error) => (error ? reject(error) : resolve())),
      );
      return fd;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  // A block device opened read-write with O_EXCL is claimed exclusively by Linux.
  if (existing?.isBlockDevice() && !readOnly) flags |= constants.O_EXCL;
  return open(flags);
}

function fstat(fd: number) {
  return new Promise<fs.BigIntStats>((resolve, reject) =>
    fs.fstat(fd, { bigint: true }, (error, stat) => (error ? reject(error) : resolve(stat))),
  );
}

/** Size and logical block size of a Linux block device, from sysfs. */
async function blockDeviceGeometry(rdev: bigint) {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  const dir = `/sys/dev/block/${major}:${minor}`;
  const read = (file: string) =>
    fsp.readFile(`${dir}/${file}`, "utf8").then((t) => Number(t.trim()));
  const sectors = await read("size").catch(() => Number.NaN);
  if (!Number.isSafeInteger(sectors)) {
    throw new BlockConfigError(
      `cannot read the size of block device ${major}:${minor} from ${dir}`,
    );
  }
  // Partitions have no queue/ of their own: it is their parent's.
  const logical =
    (await read("queue/logical_block_size").catch(() => Number.NaN)) ||
    (await read("../queue/logical_block_size").catch(() => Number.NaN)) ||
    512;
  return { bytes: sectors * 512, logicalBlockSize: Number.isSafeInteger(logical) ? logical : 512 };
}

type Direction = "read" | "write";

/** Moves whole buffers at `position`, continuing after short transfers. */
async function transfer(
  direction: Direction,
  fd: number,
  info: FileBlockInfo,
  buffers: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let list = buffers;
  let at = position;
  while (list.length > 0) {
    let done: number;
    try {
      done = await once(direction, fd, list, at);
    } catch (error) {
      throw hostError(`${direction} ${info.path} at byte ${at}`, error);
    }
    if (done === 0) {
      throw new BlockIoError(`${direction} ${info.path} at byte ${at}: unexpected end of file`);
    }
    at += done;
    list = advance(list, done);
  }
}

function once(direction: Direction, fd: number, list: readonly Uint8Array[], at: number) {
  return new Promise<number>((resolve, reject) => {
    const done = (error: NodeJS.ErrnoException | null, n: number) =>
      error ? reject(error) : resolve(n);
    const first = list[0]!;
    if (list.length === 1) {
      if (direction === "read") fs.read(fd, first, 0, first.length, at, done);
      else fs.write(fd, first, 0, first.length, at, done);
    } else if (direction === "read") {
      fs.readv(fd, list as Uint8Array[], at, done);
    } else {
      fs.writev(fd, list as Uint8Array[], at, done);
    }
  });
}

function advance(list: readonly Uint8Array[], bytes: number): readonly Uint8Array[] {
  let i = 0;
  let left = bytes;
  while (i < list.length && left >= list[i]!.length) left -= list[i++]!.length;
  if (i === list.length) return [];
  return left === 0 ? list.slice(i) : [list[i]!.subarray(left), ...list.slice(i + 1)];
}

function hostError(what: string, error: unknown) {
  if (error instanceof BlockConfigError || error instanceof BlockIoError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  return new BlockIoError(`${what}: ${code ?? String(error)}`, { cause: error });
}
