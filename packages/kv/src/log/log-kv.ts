// The log store: a crash-safe KvRw over a Block device. Every change is a
// checksummed record appended to a log; `flush` makes everything before it
// durable; after a power loss at any point the store opens with every change
// acknowledged by a flush, plus a prefix of the changes after it. When the
// log fills up, the live values are copied to the other half of the device
// (copying compaction) and a superblock switch makes the copy current.
// The on-disk format is described in the package README.

import { Block } from "@atoll/block";
import { WallClock } from "@atoll/clock";
import { DisconnectedError, driver, isAtollError } from "@atoll/core";
import { sha256 } from "@noble/hashes/sha2";
import { BlockBytes } from "../bytes.js";
import {
  AlreadyPresentError,
  CorruptStoreError,
  InvalidKeyError,
  KeyNotFoundError,
  KvIoError,
  NoSpaceError,
  UnknownFormatError,
} from "../errors.js";
import { formatKey, type Key, parseKey } from "../key.js";
import { type EntryKind, type KvEntry, KvRw, type KvValue } from "../signature.js";
import { KeyTree, type RenamePlan, type ValueNode } from "../tree.js";
import {
  checkCount,
  dictionaryDigest,
  dictionaryLastModified,
  partialRange,
  patch,
  SerialQueue,
  sha256Hex,
  toBytes,
  utf8,
} from "../util.js";
import {
  compareStamps,
  decodeSuperblock,
  encodeRecord,
  encodeSuperblock,
  FLAG_BATCH_START,
  MAGIC,
  RECORD_HEADER,
  RECORD_REMOVE,
  RECORD_RENAME,
  RECORD_SET,
  readRecordHeader,
  recordChecksumOk,
  SUPERBLOCK_BYTES,
  type Superblock,
} from "./format.js";

const MAX_U32 = 0xffffffff;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Where a value's record is in the active half. */
interface Location {
  readonly pos: number;
  readonly length: number;
  readonly keyLength: number;
  readonly valueLength: number;
  readonly mtime: number;
}

export interface LogKvOptions {
  /**
   * "if-empty" (default): format a device whose superblock sectors are all
   * zero, refuse anything else that is not a log store. "always": format
   * whatever the device holds.
   */
  readonly format?: "if-empty" | "always";
  /** Flush after every change (slower; every acknowledged change is durable). */
  readonly autoFlush?: boolean;
  /**
   * Open a damaged log by cutting it at the damage, losing the changes after
   * it, instead of rejecting with ATOLL_KV_CORRUPT.
   */
  readonly repair?: boolean;
}

export interface LogKvStats {
  readonly activeHalf: 0 | 1;
  readonly epoch: number;
  readonly batch: number;
  /** Bytes in each half of the data area. */
  readonly halfBytes: number;
  /** End of the log in the active half. */
  readonly logBytes: number;
  /** Bytes of records that hold live values. */
  readonly liveBytes: number;
  readonly values: number;
  readonly compactions: number;
}

export class LogKv implements KvRw {
  readonly #bytes: BlockBytes;
  readonly #block: Block;
  readonly #s: number;
  readonly #now: () => number;
  readonly #options: LogKvOptions;
  readonly #queue = new SerialQueue();
  #tree = new KeyTree<Location>();
  #sb!: Superblock;
  #sbSlot: 0 | 1 = 0;
  #halfBytes = 0;
  /** End of the last record in the log (the next record starts here or at the next sector). */
  #lastEnd = 0;
  /** Contents of the sector holding #lastEnd while the current batch writes into it. */
  #tailSector: Uint8Array | undefined;
  #epoch = 0;
  #batch = 0;
  /** This session has raised the epoch in the superblock and may write records. */
  #session = false;
  /** Records have been written in the current batch. */
  #batchOpen = false;
  #liveBytes = 0;
  #compactions = 0;
  #failed: unknown;
  #closed = false;

  private constructor(block: Block, now: () => number, options: LogKvOptions) {
    this.#block = block;
    this.#bytes = new BlockBytes(block);
    this.#s = block.info().sectorSize;
    this.#now = now;
    this.#options = options;
  }

  /**
   * Opens the store on `block`, replaying its log. Rejects with ATOLL_KV_FORMAT
   * when the device holds something else, ATOLL_KV_CORRUPT when the store is
   * damaged (a bad superblock, a truncated image, a damaged record followed by
   * durable ones).
   */
  static async open(block: Block, clock: WallClock, options: LogKvOptions = {}): Promise<LogKv> {
    const info = block.info();
    if (info.sectorSize < SUPERBLOCK_BYTES || info.sectorCount < 10) {
      throw new NoSpaceError(
        `a log store needs sectors of at least ${SUPERBLOCK_BYTES} bytes and 10 sectors, got ${info.sectorCount} × ${info.sectorSize}`,
      );
    }
    const kv = new LogKv(block, () => clock.now(), options);
    await kv.#mount();
    return kv;
  }

  stats(): LogKvStats {
    let values = 0;
    for (const _ of this.#tree.values()) values++;
    return {
      activeHalf: this.#sb.activeHalf,
      epoch: this.#epoch,
      batch: this.#batch,
      halfBytes: this.#halfBytes,
      logBytes: this.#lastEnd,
      liveBytes: this.#liveBytes,
      values,
      compactions: this.#compactions,
    };
  }

  // ---- KvRo ------------------------------------------------------------------------------

  exists(key: Key): Promise<EntryKind | undefined> {
    return this.#read(async () => this.#tree.find(parseKey(key))?.kind);
  }

  get(key: Key): Promise<Uint8Array> {
    return this.#read(async () => (await this.#value(parseKey(key))).slice());
  }

  getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    return this.#read(async () => {
      const segments = parseKey(key);
      const loc = this.#tree.value(segments).data;
      const [start, end] = partialRange(loc.valueLength, offset, length);
      return (await this.#value(segments)).slice(start, end);
    });
  }

  list(key: Key): Promise<KvEntry[]> {
    return this.#read(async () => this.#tree.list(parseKey(key)));
  }

  lastModified(key: Key): Promise<number> {
    return this.#read(() => this.#lastModifiedOf(key));
  }

  digest(key: Key): Promise<string> {
    return this.#read(() => this.#digestOf(key));
  }

  size(key: Key): Promise<number> {
    return this.#read(async () => this.#tree.value(parseKey(key)).data.valueLength);
  }

  // ---- KvRw ------------------------------------------------------------------------------

  set(key: Key, value: KvValue): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      const bytes = toBytes(value);
      this.#tree.checkSet(segments);
      await this.#append(RECORD_SET, segments, bytes, this.#now());
    });
  }

  setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      checkCount("offset", offset);
      const node = this.#tree.find(segments);
      if (node?.kind === "dictionary") this.#tree.value(segments);
      this.#tree.checkSet(segments);
      const old = node?.kind === "value" ? await this.#value(segments) : new Uint8Array(0);
      await this.#append(RECORD_SET, segments, patch(old, offset, toBytes(data)), this.#now());
    });
  }

  remove(key: Key): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      if (this.#tree.find(segments) === undefined) return;
      await this.#append(RECORD_REMOVE, segments, new Uint8Array(0), this.#now());
    });
  }

  rename(source: Key, dest: Key): Promise<void> {
    return this.#write(async () => {
      const plan = this.#tree.planRename(parseKey(source), parseKey(dest));
      if (plan.noop) return;
      await this.#append(RECORD_RENAME, [...plan.from], utf8(formatKey(plan.to)), this.#now());
    });
  }

  allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      checkCount("size", size);
      if (this.#tree.find(segments) !== undefined)
        throw new AlreadyPresentError(formatKey(segments));
      this.#tree.checkSet(segments);
      await this.#append(RECORD_SET, segments, new Uint8Array(size), lastModified ?? this.#now());
    });
  }

  flush(): Promise<void> {
    return this.#write(() => this.#flush(), false);
  }

  /**
   * Flushes and records a clean close in the superblock (so damage at the end
   * of the log is told from a crash next time), then refuses further use.
   */
  close(): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      if (!this.#session || this.#failed !== undefined || !this.#block.info().readWrite) return;
      await this.#flush();
      await this.#writeSuperblock({ ...this.#sb, cleanEnd: this.#lastEnd });
    });
  }

  // ---- mounting and replay ---------------------------------------------------------------------

  async #mount(): Promise<void> {
    const info = this.#block.info();
    const head = await this.#bytes.read(0, 2 * this.#s);
    const slots = [head.subarray(0, this.#s), head.subarray(this.#s)].map((b) =>
      decodeSuperblock(b),
    );
    const valid = slots.flatMap((r, slot) =>
      r.kind === "valid" ? [{ sb: r.sb, slot: slot as 0 | 1 }] : [],
    );
    if (valid.length === 0 || this.#options.format === "always") {
      const blank = head.every((b) => b === 0) || (await this.#interruptedFormat(head));
      if (this.#options.format === "always" || blank) {
        if (!info.readWrite) throw new KvIoError("cannot format a read-only device");
        await this.#format(
          slots.flatMap((r) => (r.kind === "valid" ? [r.sb.epoch] : [])),
          head,
        );
        return;
      }
      const damaged = slots.find((r) => r.kind === "damaged");
      if (damaged !== undefined && damaged.kind === "damaged") {
        throw new CorruptStoreError(`log store superblock damaged: ${damaged.reason}`, 0);
      }
      throw new UnknownFormatError(
        `the device does not hold an Atoll log store (${describeForeign(head)})`,
      );
    }
    valid.sort((a, b) => b.sb.epoch - a.sb.epoch);
    const { sb, slot } = valid[0]!;
    if (sb.sectorSize !== info.sectorSize) {
      throw new CorruptStoreError(
        `log store made with ${sb.sectorSize}-byte sectors, device has ${info.sectorSize}-byte sectors`,
      );
    }
    if (sb.sectorCount > info.sectorCount || 2 + 2 * sb.halfSectors > sb.sectorCount) {
      throw new CorruptStoreError(
        `truncated image: the log store spans ${sb.sectorCount} sectors, the device has ${info.sectorCount}`,
      );
    }
    this.#sb = sb;
    this.#sbSlot = slot;
    this.#halfBytes = sb.halfSectors * this.#s;
    this.#epoch = sb.epoch;
    await this.#replay();
  }

  /**
   * True when the device is blank but for the first bytes of a superblock in
   * slot 0: a format that lost power before its flush (a torn sector keeps
   * the new bytes before some offset and zeros after). Safe to format again.
   */
  async #interruptedFormat(head: Uint8Array): Promise<boolean> {
    const slot0 = head.subarray(0, this.#s);
    if (head.subarray(this.#s).some((b) => b !== 0)) return false;
    let used = slot0.length;
    while (used > 0 && slot0[used - 1] === 0) used--;
    for (let i = 0; i < Math.min(used, MAGIC.length); i++) {
      if (slot0[i] !== MAGIC.charCodeAt(i)) return false;
    }
    const firstData = await this.#bytes.read(2 * this.#s, this.#s);
    return firstData.every((b) => b === 0);
  }

  async #format(oldEpochs: number[], head: Uint8Array): Promise<void> {
    const info = this.#block.info();
    const halfSectors = Math.floor((info.sectorCount - 2) / 2);
    const epoch = Math.max(0, ...oldEpochs) + 1;
    const seed = new Uint8Array(head.length + 24);
    seed.set(head);
    const v = new DataView(seed.buffer);
    v.setFloat64(head.length, this.#now());
    v.setFloat64(head.length + 8, info.sectorCount);
    v.setFloat64(head.length + 16, info.sectorSize);
    const formatId = new DataView(sha256(seed).buffer).getUint32(0, true);
    const sb: Superblock = {
      sectorSize: info.sectorSize,
      sectorCount: info.sectorCount,
      halfSectors,
      epoch,
      activeHalf: 0,
      baseEpoch: epoch,
      formatId,
      cleanEnd: 0,
    };
    const both = new Uint8Array(2 * this.#s);
    both.set(encodeSuperblock(sb, this.#s));
    await this.#block.write(0, both);
    await this.#block.flush();
    this.#sb = sb;
    this.#sbSlot = 0;
    this.#halfBytes = halfSectors * this.#s;
    this.#epoch = epoch;
    this.#lastEnd = 0;
  }

  #halfStart(half: 0 | 1 = this.#sb.activeHalf): number {
    return (2 + half * this.#sb.halfSectors) * this.#s;
  }

  #roundUp(pos: number): number {
    return Math.ceil(pos / this.#s) * this.#s;
  }

  /** Where a record after `end` may start within its batch (a header never straddles a sector). */
  #continueAt(end: number): number {
    const left = this.#s - (end % this.#s);
    return left < RECORD_HEADER && left !== this.#s ? this.#roundUp(end) : end;
  }

  async #replay(): Promise<void> {
    const reader = new HalfReader(this.#bytes, this.#halfStart(), this.#halfBytes);
    const sb = this.#sb;
    let lastEpoch = -1;
    let lastBatch = -1;
    let end = 0;
    const tryAt = async (pos: number, batchStart: boolean) => {
      if (pos + RECORD_HEADER > this.#halfBytes) return undefined;
      const h = readRecordHeader(await reader.read(pos, RECORD_HEADER));
      const length = RECORD_HEADER + h.keyLength + h.valueLength;
      if (
        h.type < RECORD_SET ||
        h.type > RECORD_RENAME ||
        h.formatId !== sb.formatId ||
        pos + length > this.#halfBytes ||
        h.epoch < sb.baseEpoch ||
        h.epoch > sb.epoch ||
        ((h.flags & FLAG_BATCH_START) !== 0) !== batchStart
      ) {
        return undefined;
      }
      const order = compareStamps(h.epoch, h.batch, lastEpoch, lastBatch);
      if (batchStart ? order <= 0 : order !== 0) return undefined;
      const record = await reader.read(pos, length);
      if (!recordChecksumOk(record)) return undefined;
      return { h, record, length };
    };
    for (;;) {
      let found = end > 0 || lastEpoch >= 0 ? await tryAt(this.#continueAt(end), false) : undefined;
      let pos = found === undefined ? -1 : this.#continueAt(end);
      if (found === undefined) {
        pos = this.#roundUp(end);
        found = await tryAt(pos, true);
        if (found !== undefined && found.h.prevEnd !== end) {
          if (found.h.prevEnd > end)
            await this.#damaged(end, "a record the next batch depends on is damaged");
          found = undefined;
        }
      }
      if (found === undefined) break;
      this.#apply(found.h.type, found.record, pos, found.h, reader.describe(pos));
      lastEpoch = found.h.epoch;
      lastBatch = found.h.batch;
      end = pos + found.length;
    }
    // Damage, not a crash, when a later batch proves the records after `end` were durable.
    for (let q = this.#roundUp(end) + this.#s; q + RECORD_HEADER <= this.#halfBytes; q += this.#s) {
      const candidate = await tryAt(q, true);
      if (candidate !== undefined && candidate.h.prevEnd > end) {
        await this.#damaged(end, "a damaged record is followed by durable ones");
        break;
      }
    }
    if (sb.cleanEnd > 0 && sb.cleanEnd !== end) {
      await this.#damaged(end, `the log ended at byte ${sb.cleanEnd} when it was closed`);
    }
    this.#lastEnd = end;
    this.#batch = Math.max(lastBatch, 0);
  }

  async #damaged(at: number, why: string): Promise<void> {
    if (this.#options.repair === true) return;
    throw new CorruptStoreError(
      `log store damaged: ${why} (open with repair: true to keep what comes before)`,
      this.#halfStart() + at,
    );
  }

  /** Applies a record to the index (during replay and after each write). */
  #apply(
    type: number,
    record: Uint8Array,
    pos: number,
    h: { keyLength: number; valueLength: number; mtime: number },
    where: string,
  ): void {
    try {
      const segments = parseKey(
        decoder.decode(record.subarray(RECORD_HEADER, RECORD_HEADER + h.keyLength)),
      );
      if (type === RECORD_SET) {
        const previous = this.#tree.find(segments);
        const loc: Location = {
          pos,
          length: record.length,
          keyLength: h.keyLength,
          valueLength: h.valueLength,
          mtime: h.mtime,
        };
        this.#tree.set(segments, loc);
        if (previous?.kind === "value") this.#liveBytes -= previous.data.length;
        this.#liveBytes += loc.length;
      } else if (type === RECORD_REMOVE) {
        this.#forget(segments);
        this.#tree.remove(segments);
      } else {
        const to = parseKey(decoder.decode(record.subarray(RECORD_HEADER + h.keyLength)));
        const plan: RenamePlan = { from: segments, to, noop: false };
        this.#forget(to);
        this.#tree.move(plan);
      }
    } catch (error) {
      throw new CorruptStoreError(
        `log record at ${where} does not apply: ${String(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  #forget(segments: readonly string[]): void {
    for (const [, node] of this.#tree.values(segments)) this.#liveBytes -= node.data.length;
  }

  // ---- writing -----------------------------------------------------------------------------

  /** Raises the epoch in the superblock before this session's first record. */
  async #startSession(): Promise<void> {
    if (this.#session) return;
    if (this.#sb.epoch >= MAX_U32 - 1)
      throw new NoSpaceError("the store's epoch counter is exhausted");
    await this.#writeSuperblock({ ...this.#sb, epoch: this.#sb.epoch + 1, cleanEnd: 0 });
    this.#epoch = this.#sb.epoch;
    this.#batch = 0;
    this.#batchOpen = false;
    this.#tailSector = undefined;
    this.#session = true;
  }

  async #writeSuperblock(sb: Superblock): Promise<void> {
    const slot = (1 - this.#sbSlot) as 0 | 1;
    await this.#block.write(slot, encodeSuperblock(sb, this.#s));
    await this.#block.flush();
    this.#sb = sb;
    this.#sbSlot = slot;
  }

  async #append(type: number, segments: string[], value: Uint8Array, mtime: number): Promise<void> {
    const key = utf8(formatKey(segments));
    if (key.length > 0xffff)
      throw new InvalidKeyError(formatKey(segments).slice(0, 60), "longer than 65535 bytes");
    await this.#startSession();
    let record = this.#encode(type, key, value, mtime);
    let pos = this.#batchOpen ? this.#continueAt(this.#lastEnd) : this.#roundUp(this.#lastEnd);
    if (pos + record.length > this.#halfBytes) {
      await this.#compact();
      record = this.#encode(type, key, value, mtime);
      pos = this.#batchOpen ? this.#continueAt(this.#lastEnd) : this.#roundUp(this.#lastEnd);
      if (pos + record.length > this.#halfBytes) {
        throw new NoSpaceError(
          `a ${record.length}-byte record does not fit: ${this.#liveBytes} of ${this.#halfBytes} bytes hold live values`,
        );
      }
    }
    // Whole sectors: what this batch already wrote in the first one, the record, zeros.
    const first = Math.floor(pos / this.#s);
    const last = Math.ceil((pos + record.length) / this.#s);
    const out = new Uint8Array((last - first) * this.#s);
    if (pos % this.#s !== 0 && this.#tailSector !== undefined)
      out.set(this.#tailSector.subarray(0, pos % this.#s));
    out.set(record, pos - first * this.#s);
    await this.#block.write(this.#halfStart() / this.#s + first, out);
    const end = pos + record.length;
    this.#tailSector = end % this.#s === 0 ? undefined : out.slice(out.length - this.#s);
    this.#lastEnd = end;
    this.#batchOpen = true;
    this.#apply(
      type,
      record,
      pos,
      { keyLength: key.length, valueLength: value.length, mtime },
      `byte ${pos}`,
    );
    if (this.#options.autoFlush === true) await this.#flush();
  }

  #encode(type: number, key: Uint8Array, value: Uint8Array, mtime: number): Uint8Array {
    const batchStart = !this.#batchOpen;
    return encodeRecord(
      {
        type,
        flags: batchStart ? FLAG_BATCH_START : 0,
        keyLength: key.length,
        valueLength: value.length,
        epoch: this.#epoch,
        batch: this.#batch,
        formatId: this.#sb.formatId,
        mtime,
        prevEnd: batchStart ? this.#lastEnd : 0,
      },
      key,
      value,
    );
  }

  async #flush(): Promise<void> {
    if (!this.#batchOpen) return;
    await this.#block.flush();
    this.#batchOpen = false;
    this.#tailSector = undefined;
    if (this.#batch >= MAX_U32 - 1)
      this.#session = false; // the next write starts a new epoch
    else this.#batch++;
  }

  /**
   * Copies every live value into the other half as one batch of a new epoch,
   * flushes, and switches the superblock to it. A crash before the switch
   * leaves the old half current and intact.
   */
  async #compact(): Promise<void> {
    const target = (1 - this.#sb.activeHalf) as 0 | 1;
    const epoch = this.#epoch + 1;
    if (epoch >= MAX_U32) throw new NoSpaceError("the store's epoch counter is exhausted");
    const start = this.#halfStart(target);
    const chunk = new ChunkWriter(this.#block, start, this.#s);
    const moves: Array<[ValueNode<Location>, Location]> = [];
    let end = 0;
    let firstRecord = true;
    for (const [segments, node] of this.#tree.values()) {
      const loc = node.data;
      const old = await this.#bytes.read(this.#halfStart() + loc.pos, loc.length);
      if (!recordChecksumOk(old)) {
        throw new CorruptStoreError(
          "a live record is damaged; compaction stopped",
          this.#halfStart() + loc.pos,
        );
      }
      // Re-encoded under the value's current key: a rename may have moved it since it was written.
      const record = encodeRecord(
        {
          type: RECORD_SET,
          flags: firstRecord ? FLAG_BATCH_START : 0,
          keyLength: 0,
          valueLength: loc.valueLength,
          epoch,
          batch: 0,
          formatId: this.#sb.formatId,
          mtime: loc.mtime,
          prevEnd: 0,
        },
        utf8(formatKey(segments)),
        old.subarray(RECORD_HEADER + loc.keyLength),
      );
      const pos = firstRecord ? 0 : this.#continueAt(end);
      if (pos + record.length > this.#halfBytes)
        throw new NoSpaceError("live values do not fit one half");
      await chunk.put(pos, record);
      moves.push([
        node,
        {
          pos,
          length: record.length,
          keyLength: record.length - RECORD_HEADER - loc.valueLength,
          valueLength: loc.valueLength,
          mtime: loc.mtime,
        },
      ]);
      end = pos + record.length;
      firstRecord = false;
    }
    await chunk.finish();
    await this.#block.flush();
    await this.#writeSuperblock({
      ...this.#sb,
      epoch,
      activeHalf: target,
      baseEpoch: epoch,
      cleanEnd: 0,
    });
    for (const [node, loc] of moves) node.data = loc;
    this.#liveBytes = moves.reduce((n, [, loc]) => n + loc.length, 0);
    this.#epoch = epoch;
    this.#batch = 1;
    this.#batchOpen = false;
    this.#tailSector = undefined;
    this.#lastEnd = end;
    this.#compactions++;
  }

  // ---- reading -----------------------------------------------------------------------------

  async #value(segments: readonly string[]): Promise<Uint8Array> {
    const loc = this.#tree.value(segments).data;
    const record = await this.#bytes.read(this.#halfStart() + loc.pos, loc.length);
    if (!recordChecksumOk(record)) {
      throw new CorruptStoreError(
        `the record of ${formatKey(segments)} is damaged`,
        this.#halfStart() + loc.pos,
      );
    }
    return record.subarray(RECORD_HEADER + loc.keyLength);
  }

  readonly #direct = {
    list: async (key: Key) => this.#tree.list(parseKey(key)),
    digest: (key: Key) => this.#digestOf(key),
    lastModified: (key: Key) => this.#lastModifiedOf(key),
  };

  async #lastModifiedOf(key: Key): Promise<number> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "value") return node.data.mtime;
    return dictionaryLastModified(this.#direct, this.#tree.list(segments));
  }

  async #digestOf(key: Key): Promise<string> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "dictionary") return dictionaryDigest(this.#direct, segments);
    return sha256Hex(await this.#value(segments));
  }

  // ---- plumbing ----------------------------------------------------------------------------

  #read<T>(operation: () => Promise<T>): Promise<T> {
    return this.#queue.run(async () => {
      if (this.#closed) throw new DisconnectedError("log store");
      return operation();
    });
  }

  #write<T>(operation: () => Promise<T>, mutates = true): Promise<T> {
    return this.#queue.run(async () => {
      if (this.#closed) throw new DisconnectedError("log store");
      if (this.#failed !== undefined) {
        throw new KvIoError("the log store stopped after a device error; reopen it", {
          cause: this.#failed,
        });
      }
      if (!this.#block.info().readWrite) {
        if (!mutates) return undefined as T;
        throw new KvIoError("the log store's device is read-only");
      }
      try {
        return await operation();
      } catch (error) {
        // A device error may leave the log tail unknown: stop writing until reopened.
        if (isDeviceError(error)) this.#failed = error;
        throw error;
      }
    });
  }
}

function isDeviceError(error: unknown): boolean {
  return isAtollError(error) && !error.code.startsWith("ATOLL_KV_");
}

/** Sequential reads of one half with a window, for replay. */
class HalfReader {
  #start = -1;
  #data: Uint8Array = new Uint8Array(0);
  constructor(
    readonly bytes: BlockBytes,
    readonly base: number,
    readonly length: number,
  ) {}
  async read(pos: number, n: number): Promise<Uint8Array> {
    if (pos >= this.#start && pos + n <= this.#start + this.#data.length) {
      return this.#data.subarray(pos - this.#start, pos - this.#start + n);
    }
    const size = Math.min(this.length - pos, Math.max(n, 256 * 1024));
    this.#data = await this.bytes.read(this.base + pos, size);
    this.#start = pos;
    return this.#data.subarray(0, n);
  }
  describe(pos: number): string {
    return `byte ${this.base + pos}`;
  }
}

/** Collects compacted records into large sector-aligned writes. */
class ChunkWriter {
  #buffer = new Uint8Array(256 * 1024);
  #bufferStart = 0;
  #used = 0;
  constructor(
    readonly block: Block,
    readonly base: number,
    readonly sectorSize: number,
  ) {}
  async put(pos: number, record: Uint8Array): Promise<void> {
    let at = pos;
    let from = 0;
    while (from < record.length) {
      if (at - this.#bufferStart >= this.#buffer.length) await this.#drain();
      const into = at - this.#bufferStart;
      const n = Math.min(record.length - from, this.#buffer.length - into);
      this.#buffer.set(record.subarray(from, from + n), into);
      at += n;
      from += n;
      this.#used = Math.max(this.#used, into + n);
    }
  }
  async #drain(): Promise<void> {
    const whole = Math.floor(this.#used / this.sectorSize) * this.sectorSize;
    const bytes = whole === this.#buffer.length ? this.#buffer.length : whole;
    if (bytes > 0)
      await this.block.write(
        (this.base + this.#bufferStart) / this.sectorSize,
        this.#buffer.slice(0, bytes),
      );
    const rest = this.#buffer.slice(bytes, this.#used);
    this.#buffer.fill(0);
    this.#buffer.set(rest);
    this.#bufferStart += bytes;
    this.#used = rest.length;
  }
  async finish(): Promise<void> {
    if (this.#used === 0) return;
    const bytes = Math.ceil(this.#used / this.sectorSize) * this.sectorSize;
    await this.block.write(
      (this.base + this.#bufferStart) / this.sectorSize,
      this.#buffer.slice(0, bytes),
    );
  }
}

function describeForeign(head: Uint8Array): string {
  const ascii = (at: number, n: number) => String.fromCharCode(...head.subarray(at, at + n));
  if (head.length >= 263 && ascii(257, 5) === "ustar") return "it holds a tar archive";
  if (head[0] === 0x89 && ascii(1, 3) === "PNG") return "it holds a PNG image";
  if (head[0] === 0x1f && head[1] === 0x8b) return "it holds gzip data";
  return "no log store superblock in sectors 0 and 1";
}

/**
 * The crash-safe log store over the `block` device; times come from the
 * WallClock. Disconnecting flushes and records a clean close.
 */
export const logKv = (options: LogKvOptions = {}) =>
  driver({
    name: "kv.log",
    provides: KvRw,
    needs: { block: Block, wallClock: WallClock },
    connect: ({ block, wallClock }) => LogKv.open(block, wallClock, options),
    disconnect: (kv) => (kv as LogKv).close(),
  });
