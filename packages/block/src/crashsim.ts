// crashSim: a device that remembers every write since the last flush and can
// lose power. A crash keeps any chosen subset (or prefix) of the unflushed
// sector writes — optionally tearing a sector, new bytes up to some offset and
// old bytes after — exactly the states a disk with a volatile write cache may
// be left in. Stores are tested by crashing them at every write point.

import { type ArgsSpec, DisconnectedError, isDriver, type NeedsSpec } from "@atoll/core";
import { type BlockDriver, type WrappedBlock, wrapDriver } from "./combinators.js";
import { BlockReadOnlyError } from "./errors.js";
import { checkRange, checkRequest } from "./io.js";
import type { MemoryDisk } from "./memory.js";
import type { Block, BlockInfo, SectorBuffers } from "./signature.js";

/** One sector written since the last flush. */
export interface UnflushedWrite {
  readonly sector: number;
  /** The sector's new contents (a private copy). */
  readonly data: Uint8Array;
  /** Which write call it came from, counting from 0 for the device's first write. */
  readonly write: number;
}

/** What survives a power loss. */
export type CrashPlan =
  | { readonly keep: "none" }
  | { readonly keep: "all" }
  /** The first `count` unflushed sector writes, in order. */
  | { readonly keep: "prefix"; readonly count: number }
  /**
   * Each unflushed sector write survives when `choose` returns true, is lost
   * when it returns false, and is torn when it returns a byte offset: the
   * sector then holds the new bytes before the offset and its old bytes after.
   */
  | {
      readonly keep: "subset";
      readonly choose: (write: UnflushedWrite, index: number) => boolean | number;
    };

/** A sector write that reaches the disk in a crash. */
export interface SurvivingWrite {
  readonly sector: number;
  readonly data: Uint8Array;
  /** Set for a torn write: only bytes before this offset are new. */
  readonly tornAt?: number;
}

/** The unflushed writes a plan keeps, in the order they were issued. */
export function survivingWrites(
  pending: readonly UnflushedWrite[],
  plan: CrashPlan,
): SurvivingWrite[] {
  switch (plan.keep) {
    case "none":
      return [];
    case "all":
      return pending.map(({ sector, data }) => ({ sector, data }));
    case "prefix":
      return pending
        .slice(0, Math.max(0, plan.count))
        .map(({ sector, data }) => ({ sector, data }));
    case "subset": {
      const out: SurvivingWrite[] = [];
      pending.forEach((w, i) => {
        const choice = plan.choose(w, i);
        if (choice === true) out.push({ sector: w.sector, data: w.data });
        else if (typeof choice === "number" && choice > 0) {
          out.push(
            choice >= w.data.length
              ? { sector: w.sector, data: w.data }
              : { sector: w.sector, data: w.data, tornAt: choice },
          );
        }
      });
      return out;
    }
  }
}

/**
 * A random plan: all, none, a random prefix, or a random subset; with `torn`,
 * a subset may tear sectors. `random.int(n)` is a uniform integer below n.
 */
export function randomCrashPlan(
  random: { int(bound: number): number },
  pending: readonly UnflushedWrite[],
  options: { readonly torn?: boolean } = {},
): CrashPlan {
  switch (random.int(4)) {
    case 0:
      return { keep: "none" };
    case 1:
      return { keep: "all" };
    case 2:
      return { keep: "prefix", count: random.int(pending.length + 1) };
    default: {
      const choices = pending.map((w) => {
        if (options.torn === true && random.int(8) === 0) return random.int(w.data.length);
        return random.int(2) === 0;
      });
      return { keep: "subset", choose: (_w, i) => choices[i] ?? false };
    }
  }
}

/** Applies surviving writes to a memory disk (the durable state at the crash), in order. */
export function applySurvivors(disk: MemoryDisk, survivors: readonly SurvivingWrite[]): void {
  for (const w of survivors) {
    if (w.tornAt === undefined) {
      disk.writeSectors(w.sector, w.data);
    } else {
      const merged = new Uint8Array(w.data.length);
      disk.readSectors(w.sector, merged);
      merged.set(w.data.subarray(0, w.tornAt));
      disk.writeSectors(w.sector, merged);
    }
  }
}

/** A device that keeps unflushed writes in memory until flush, and can crash. */
export class CrashSimBlock implements WrappedBlock {
  readonly #inner: Block;
  readonly #info: BlockInfo;
  #pending: UnflushedWrite[] = [];
  // The newest unflushed contents of each sector, which reads see.
  #overlay = new Map<number, Uint8Array>();
  #writes = 0;
  #flushes = 0;
  #state: "open" | "crashed" | "closed" = "open";
  /** Called after each write call is recorded and before it resolves: a crash point. */
  onWrite: ((device: CrashSimBlock) => void) | undefined;

  constructor(inner: Block) {
    this.#inner = inner;
    this.#info = inner.info();
  }

  /** Sector writes since the last flush, in the order they were issued. */
  get pending(): readonly UnflushedWrite[] {
    return this.#pending;
  }
  /** Write calls so far. */
  get writeCount(): number {
    return this.#writes;
  }
  /** Flush calls that completed. */
  get flushCount(): number {
    return this.#flushes;
  }
  get crashed(): boolean {
    return this.#state === "crashed";
  }

  info(): BlockInfo {
    return this.#info;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    await this.#inner.read(sector, list);
    if (this.#overlay.size === 0) return;
    const size = this.#info.sectorSize;
    let s = sector;
    for (const b of list) {
      for (let at = 0; at < b.length; at += size, s++) {
        const newer = this.#overlay.get(s);
        if (newer !== undefined) b.set(newer, at);
      }
    }
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    this.#check();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    const size = this.#info.sectorSize;
    const write = this.#writes++;
    let s = sector;
    for (const b of list) {
      for (let at = 0; at < b.length; at += size, s++) {
        const data = b.slice(at, at + size);
        this.#pending.push({ sector: s, data, write });
        this.#overlay.set(s, data);
      }
    }
    this.onWrite?.(this);
  }

  async flush(): Promise<void> {
    this.#check();
    const batch = this.#pending;
    this.#pending = [];
    const latest = new Map<number, Uint8Array>();
    for (const w of batch) latest.set(w.sector, w.data);
    const sectors = [...latest.keys()].sort((a, b) => a - b);
    // Write runs of consecutive sectors with one call each.
    for (let i = 0; i < sectors.length; ) {
      let j = i + 1;
      while (j < sectors.length && sectors[j] === sectors[j - 1]! + 1) j++;
      const run = sectors.slice(i, j).map((s) => latest.get(s)!);
      await this.#inner.write(sectors[i]!, run);
      i = j;
    }
    for (const [s, data] of latest) if (this.#overlay.get(s) === data) this.#overlay.delete(s);
    await this.#inner.flush();
    this.#flushes++;
  }

  async discard(sector: number, count: number): Promise<void> {
    this.#check();
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    checkRange(this.#info, sector, count);
    // A discard is modelled as writing zeros: it may be lost in a crash like a write.
    if (count > 0) await this.write(sector, new Uint8Array(count * this.#info.sectorSize));
  }

  /**
   * Power loss: the writes the plan keeps reach the device below (and are
   * flushed there); everything else is lost. Later operations reject with
   * ATOLL_DISCONNECTED. Open a new device on the one below to "reboot".
   */
  async crash(plan: CrashPlan = { keep: "none" }): Promise<void> {
    this.#check();
    this.#state = "crashed";
    const survivors = survivingWrites(this.#pending, plan);
    this.#pending = [];
    this.#overlay.clear();
    const size = this.#info.sectorSize;
    for (const w of survivors) {
      let data = w.data;
      if (w.tornAt !== undefined) {
        data = new Uint8Array(size);
        await this.#inner.read(w.sector, data);
        data.set(w.data.subarray(0, w.tornAt));
      }
      await this.#inner.write(w.sector, data);
    }
    await this.#inner.flush();
  }

  close(): void {
    if (this.#state === "open") this.#state = "closed";
  }

  #check(): void {
    if (this.#state !== "open") {
      throw new DisconnectedError(
        this.#state === "crashed"
          ? "crash-simulated block device (crashed)"
          : "crash-simulated block device",
      );
    }
  }
}

/** Records unflushed writes and simulates power loss; see CrashSimBlock. */
export function crashSim(block: Block): CrashSimBlock;
export function crashSim<N extends NeedsSpec, A extends ArgsSpec>(
  inner: BlockDriver<N, A>,
): BlockDriver<N, A> & { readonly device: CrashSimBlock | undefined };
export function crashSim(
  x: Block | BlockDriver,
): CrashSimBlock | (BlockDriver & { readonly device: CrashSimBlock | undefined }) {
  if (!isDriver(x)) return new CrashSimBlock(x);
  let device: CrashSimBlock | undefined;
  const d = wrapDriver(x as BlockDriver, "block.crash-sim", (b) => (device = new CrashSimBlock(b)));
  return Object.defineProperty(d, "device", {
    get: () => device,
    enumerable: true,
  }) as BlockDriver & {
    readonly device: CrashSimBlock | undefined;
  };
}
