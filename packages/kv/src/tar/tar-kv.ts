// The tar store: a standard archive on a Block device, read-write in place.
//
//  - Reading: the table of contents is scanned once at connect; values are
//    read from the device on demand. ustar, pax and GNU archives (long names,
//    base-256 numbers) are understood; hard links read as their target's
//    bytes; symbolic links, devices and names that climb out with ".." are
//    kept in the archive but are not part of the store.
//  - Writing: a new value is appended as a ustar member (with a pax header
//    when the name or size needs one), followed by a new end-of-archive
//    marker. A replaced or removed member becomes a pax *global* header
//    carrying only a `comment` record, which tar readers skip: `tar -t` lists
//    exactly the live values and `tar -x` extracts them byte for byte. When
//    the device is full, live members slide down over the dead ones.
//  - Not crash-safe: a power loss in the middle of a write may leave the
//    archive damaged. Use the log store for data that must survive crashes.

import { Block } from "@atoll/block";
import { WallClock } from "@atoll/clock";
import { DisconnectedError, driver } from "@atoll/core";
import { BlockBytes } from "../bytes.js";
import { AlreadyPresentError, KeyNotFoundError, KvIoError, NoSpaceError } from "../errors.js";
import { formatKey, type Key, parseKey } from "../key.js";
import { type EntryKind, type KvEntry, KvRo, KvRw, type KvValue } from "../signature.js";
import { KeyTree } from "../tree.js";
import {
  checkCount,
  dictionaryDigest,
  dictionaryLastModified,
  partialRange,
  patch,
  SerialQueue,
  sha256Hex,
  toBytes,
} from "../util.js";
import { readOnlyView } from "../view.js";
import { type Member, scanArchive, TOMBSTONE_NAME } from "./archive.js";
import {
  BLOCK,
  blocksFor,
  formatHeader,
  formatPax,
  splitName,
  USTAR_MAX_SIZE,
  utf8,
} from "./format.js";

/** A value in the index: its member, and the member holding its bytes (differs for hard links). */
interface Entry {
  readonly member: Member;
  readonly data: Member;
}

const END_MARKER = 2 * BLOCK;

export interface TarKvOptions {
  /** Connect read-only (also implied by a read-only device). */
  readonly readOnly?: boolean;
}

export class TarKv implements KvRw {
  readonly #bytes: BlockBytes;
  readonly #now: () => number;
  readonly #readOnly: boolean;
  readonly #tree = new KeyTree<Entry>();
  /** Every member in archive order, live or dead. */
  #members: Member[] = [];
  /** Members that are part of the store (values, explicit directories, link targets). */
  readonly #explicit = new Map<Member, string[]>();
  #end = 0;
  /** Index entries that are hard links (their bytes live in another member). */
  #links = 0;
  readonly #queue = new SerialQueue();
  #closed = false;

  private constructor(block: Block, now: () => number, readOnly: boolean) {
    this.#bytes = new BlockBytes(block);
    this.#now = now;
    this.#readOnly = readOnly;
  }

  /**
   * Reads the archive on `block`. An all-zero device is an empty archive.
   * Rejects with ATOLL_KV_FORMAT when the device holds something else and
   * ATOLL_KV_CORRUPT when the archive is damaged or truncated.
   */
  static async open(block: Block, clock: WallClock | undefined, options: TarKvOptions = {}) {
    const readOnly = options.readOnly === true || !block.info().readWrite;
    const kv = new TarKv(block, () => clock?.now() ?? 0, readOnly);
    await kv.#load();
    return kv;
  }

  /** Bytes used by the archive, up to its end-of-archive marker. */
  get archiveBytes(): number {
    return this.#end;
  }

  async #load(): Promise<void> {
    const { members, end } = await scanArchive(this.#bytes);
    this.#members = members;
    this.#end = end;
    const byKey = new Map<string, Member>();
    for (const m of members) {
      if (m.segments === undefined || (m.segments.length === 0 && m.kind !== "directory")) continue;
      if (m.kind === "file") {
        this.#install(m, m);
        byKey.set(formatKey(m.segments), m);
      } else if (m.kind === "hardlink" && m.linkTarget !== undefined) {
        const target = byKey.get(formatKey(m.linkTarget));
        if (target !== undefined) {
          this.#install(m, target);
          this.#links++;
          byKey.set(formatKey(m.segments), target);
        }
      } else if (m.kind === "directory" && m.segments.length > 0) {
        if (this.#tree.setDictionary(m.segments, m.mtime)) this.#explicit.set(m, m.segments);
      }
    }
  }

  /** Indexes a value member; a later member of the same name wins, as with `tar -x`. */
  #install(member: Member, data: Member): void {
    const segments = member.segments!;
    const node = this.#tree.find(segments);
    if (node?.kind === "dictionary") return; // a file where the archive has a directory: not a value
    try {
      this.#tree.set(segments, { member, data });
    } catch {
      // Below a value: `tar -x` could not extract it either.
    }
  }

  // ---- KvRo ------------------------------------------------------------------------------

  exists(key: Key): Promise<EntryKind | undefined> {
    return this.#op(async () => this.#tree.find(parseKey(key))?.kind);
  }

  get(key: Key): Promise<Uint8Array> {
    return this.#op(async () => {
      const { data } = this.#tree.value(parseKey(key)).data;
      return (await this.#bytes.read(data.dataOffset, data.size)).slice();
    });
  }

  getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    return this.#op(async () => {
      const { data } = this.#tree.value(parseKey(key)).data;
      const [start, end] = partialRange(data.size, offset, length);
      return (await this.#bytes.read(data.dataOffset + start, end - start)).slice();
    });
  }

  list(key: Key): Promise<KvEntry[]> {
    return this.#op(async () => this.#tree.list(parseKey(key)));
  }

  lastModified(key: Key): Promise<number> {
    return this.#op(() => this.#lastModifiedOf(key));
  }

  digest(key: Key): Promise<string> {
    return this.#op(() => this.#digestOf(key));
  }

  size(key: Key): Promise<number> {
    return this.#op(async () => this.#tree.value(parseKey(key)).data.data.size);
  }

  // ---- KvRw ------------------------------------------------------------------------------

  set(key: Key, value: KvValue): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      const bytes = toBytes(value);
      this.#tree.checkSet(segments);
      await this.#putValue(segments, bytes, this.#now());
    });
  }

  setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      checkCount("offset", offset);
      const node = this.#tree.find(segments);
      if (node?.kind === "dictionary") this.#tree.value(segments);
      this.#tree.checkSet(segments);
      let old: Uint8Array = new Uint8Array(0);
      if (node?.kind === "value") {
        const d = node.data.data;
        old = await this.#bytes.read(d.dataOffset, d.size);
      }
      await this.#putValue(segments, patch(old, offset, toBytes(data)), this.#now());
    });
  }

  remove(key: Key): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      if (this.#tree.find(segments) === undefined) return;
      await this.#killUnder(segments);
      this.#tree.remove(segments);
    });
  }

  rename(source: Key, dest: Key): Promise<void> {
    return this.#write(async () => {
      const plan = this.#tree.planRename(parseKey(source), parseKey(dest));
      if (plan.noop) return;
      // Copy everything under the source to its new name, then delete the old members.
      const values = [...this.#tree.values(plan.from)];
      const dirs = [...this.#tree.explicitDictionaries(plan.from)];
      const copies: Array<[string[], Uint8Array, number]> = [];
      for (const [segments, node] of values) {
        const d = node.data.data;
        copies.push([
          segments,
          await this.#bytes.read(d.dataOffset, d.size),
          node.data.member.mtime,
        ]);
      }
      await this.#killUnder(plan.to);
      await this.#killUnder(plan.from);
      this.#tree.remove(plan.to);
      const moved = (s: readonly string[]) => [...plan.to, ...s.slice(plan.from.length)];
      const sourceNode = this.#tree.remove(plan.from);
      try {
        for (const [segments, mtime] of dirs) await this.#putDirectory(moved(segments), mtime);
        for (const [segments, bytes, mtime] of copies)
          await this.#putValue(moved(segments), bytes, mtime);
        if (sourceNode?.kind === "dictionary" && copies.length === 0 && dirs.length === 0) {
          // An empty explicit dictionary moved: keep it as a directory member.
          await this.#putDirectory([...plan.to], sourceNode.explicit ?? this.#now());
        }
      } catch (error) {
        throw new KvIoError(`rename of ${formatKey(plan.from)} stopped part way`, { cause: error });
      }
    });
  }

  allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    return this.#write(async () => {
      const segments = parseKey(key);
      checkCount("size", size);
      if (this.#tree.find(segments) !== undefined)
        throw new AlreadyPresentError(formatKey(segments));
      this.#tree.checkSet(segments);
      await this.#putValue(segments, new Uint8Array(size), lastModified ?? this.#now());
    });
  }

  flush(): Promise<void> {
    return this.#op(async () => {
      if (!this.#readOnly) await this.#bytes.block.flush();
    });
  }

  close(): void {
    this.#closed = true;
  }

  // ---- archive writing ---------------------------------------------------------------------

  /** Appends a member for a value, then retires the member it replaces. */
  async #putValue(segments: string[], bytes: Uint8Array, mtime: number): Promise<void> {
    const previous = this.#tree.find(segments);
    const member = await this.#append(segments, "0", bytes, mtime);
    if (previous?.kind === "value") await this.#retire(previous.data.member);
    this.#tree.set(segments, { member, data: member });
  }

  async #putDirectory(segments: string[], mtime: number): Promise<void> {
    const member = await this.#append(segments, "5", new Uint8Array(0), mtime);
    this.#tree.setDictionary(segments, mtime);
    this.#explicit.set(member, segments);
  }

  /** The headers of a new member: ustar when the name fits, with a pax header otherwise. */
  #headers(segments: string[], typeflag: "0" | "5", size: number, mtime: number): Uint8Array {
    const path = segments.join("/") + (typeflag === "5" ? "/" : "");
    const name = utf8(path);
    const seconds = Math.floor(mtime / 1000);
    const ascii = /^[\x20-\x7e]*$/.test(path);
    const split = ascii ? splitName(name) : undefined;
    const records: Array<[string, string]> = [];
    if (split === undefined) records.push(["path", path]);
    if (size > USTAR_MAX_SIZE) records.push(["size", String(size)]);
    const main = formatHeader({
      name: split?.name ?? utf8(path.replace(/[^\x20-\x7e]/g, "_").slice(-100)),
      ...(split?.prefix === undefined ? {} : { prefix: split.prefix }),
      size,
      mtime: seconds,
      typeflag,
    });
    if (records.length === 0) return main;
    const pax = formatPax(records);
    const paxHeader = formatHeader({
      name: utf8(`PaxHeaders/${segments.at(-1)!.replace(/[^\x20-\x7e]/g, "_")}`.slice(0, 100)),
      size: pax.length,
      mtime: seconds,
      typeflag: "x",
    });
    const out = new Uint8Array(BLOCK * (2 + blocksFor(pax.length)));
    out.set(paxHeader);
    out.set(pax, BLOCK);
    out.set(main, BLOCK * (1 + blocksFor(pax.length)));
    return out;
  }

  async #append(segments: string[], typeflag: "0" | "5", bytes: Uint8Array, mtime: number) {
    const headers = this.#headers(segments, typeflag, bytes.length, mtime);
    const length = headers.length + blocksFor(bytes.length) * BLOCK;
    if (this.#end + length + END_MARKER > this.#capacity()) await this.#compact();
    if (this.#end + length + END_MARKER > this.#capacity()) {
      throw new NoSpaceError(
        `a ${length}-byte member does not fit: ${this.#liveBytes()} of ${this.#capacity()} bytes hold live members`,
      );
    }
    const out = new Uint8Array(length + END_MARKER);
    out.set(headers);
    out.set(bytes, headers.length);
    const start = this.#end;
    await this.#bytes.write(start, out);
    const member: Member = {
      kind: typeflag === "0" ? "file" : "directory",
      segments,
      start,
      dataOffset: start + headers.length,
      size: bytes.length,
      end: start + length,
      mtime: Math.floor(mtime / 1000) * 1000,
    };
    this.#members.push(member);
    this.#end = member.end;
    return member;
  }

  /**
   * Turns a member's run into a pax global header whose one `comment` record
   * spans the whole run, so that tar readers skip it. Writes at most three blocks.
   */
  async #retire(member: Member): Promise<void> {
    // Hard links that share this member's bytes keep them: give them their own copy first.
    for (const [segments, node] of this.#links > 0 ? [...this.#tree.values()] : []) {
      if (node.data.data === member && node.data.member !== member) {
        this.#links--;
        const bytes = await this.#bytes.read(member.dataOffset, member.size);
        const linkMember = node.data.member;
        const copy = await this.#append(segments, "0", bytes, linkMember.mtime);
        node.data = { member: copy, data: copy };
        await this.#retire(linkMember);
      }
    }
    this.#explicit.delete(member);
    const payload = member.end - member.start - BLOCK;
    const header = formatHeader({
      name: utf8(TOMBSTONE_NAME),
      size: payload,
      mtime: 0,
      typeflag: "g",
    });
    if (payload === 0) {
      await this.#bytes.write(member.start, header);
    } else {
      const head = new Uint8Array(2 * BLOCK);
      head.set(header);
      head.set(utf8(`${payload} comment=`), BLOCK);
      if (payload === BLOCK) head[2 * BLOCK - 1] = 0x0a;
      await this.#bytes.write(member.start, head);
      if (payload > BLOCK) {
        const last = new Uint8Array(BLOCK);
        last[BLOCK - 1] = 0x0a;
        await this.#bytes.write(member.end - BLOCK, last);
      }
    }
    member.kind = "tombstone";
    member.segments = undefined;
  }

  /** Retires every member that holds a value or directory at or below `segments`. */
  async #killUnder(segments: readonly string[]): Promise<void> {
    for (const [, node] of [...this.#tree.values(segments)]) await this.#retire(node.data.member);
    for (const [member, path] of [...this.#explicit]) {
      if (path.length >= segments.length && segments.every((s, i) => path[i] === s)) {
        await this.#retire(member);
      }
    }
  }

  #capacity(): number {
    return this.#bytes.size - (this.#bytes.size % BLOCK);
  }

  #liveBytes(): number {
    let n = 0;
    for (const m of this.#members) if (m.kind !== "tombstone") n += m.end - m.start;
    return n;
  }

  /** Slides live members down over dead ones and writes a new end marker. */
  async #compact(): Promise<void> {
    const live = new Set<Member>();
    for (const [, node] of this.#tree.values()) {
      live.add(node.data.member);
      live.add(node.data.data);
    }
    for (const m of this.#explicit.keys()) live.add(m);
    for (const m of this.#members) if (m.kind === "other") live.add(m);
    let to = 0;
    const kept: Member[] = [];
    for (const m of this.#members) {
      if (!live.has(m)) continue;
      const shift = m.start - to;
      if (shift > 0) {
        const chunk = 256 * 1024;
        for (let at = 0; at < m.end - m.start; at += chunk) {
          const n = Math.min(chunk, m.end - m.start - at);
          await this.#bytes.write(to + at, await this.#bytes.read(m.start + at, n));
        }
        m.start -= shift;
        m.dataOffset -= shift;
        m.end -= shift;
      }
      to = m.end;
      kept.push(m);
    }
    this.#members = kept;
    this.#end = to;
    await this.#bytes.write(to, new Uint8Array(END_MARKER));
  }

  // ---- plumbing ----------------------------------------------------------------------------

  #op<T>(operation: () => Promise<T>): Promise<T> {
    return this.#queue.run(async () => {
      if (this.#closed) throw new DisconnectedError("tar store");
      return operation();
    });
  }

  #write<T>(operation: () => Promise<T>): Promise<T> {
    return this.#op(async () => {
      if (this.#readOnly) throw new KvIoError("the tar store is read-only");
      return operation();
    });
  }

  /** Reads for the dictionary helpers, which recurse from inside an operation (no re-queueing). */
  readonly #direct = {
    list: async (key: Key) => this.#tree.list(parseKey(key)),
    digest: (key: Key) => this.#digestOf(key),
    lastModified: (key: Key) => this.#lastModifiedOf(key),
  };

  async #lastModifiedOf(key: Key): Promise<number> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "value") return node.data.member.mtime;
    return dictionaryLastModified(this.#direct, this.#tree.list(segments), node.explicit);
  }

  async #digestOf(key: Key): Promise<string> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "dictionary") return dictionaryDigest(this.#direct, segments);
    const { data } = node.data;
    return sha256Hex(await this.#bytes.read(data.dataOffset, data.size));
  }
}

/** The read-write tar store over the `block` device; times come from the WallClock. */
export const tarKv = () =>
  driver({
    name: "kv.tar",
    provides: KvRw,
    needs: { block: Block, wallClock: WallClock },
    connect: ({ block, wallClock }) => TarKv.open(block, wallClock),
    disconnect: async (kv) => {
      await (kv as TarKv).flush();
      (kv as TarKv).close();
    },
  });

/** The read-only tar store over the `block` device (which may be read-only). */
export const tarKvRo = () => {
  const open = new WeakMap<KvRo, TarKv>();
  return driver({
    name: "kv.tar-ro",
    provides: KvRo,
    needs: { block: Block },
    async connect({ block }) {
      const kv = await TarKv.open(block, undefined, { readOnly: true });
      const view = readOnlyView(kv);
      open.set(view, kv);
      return view;
    },
    disconnect: (view) => open.get(view)?.close(),
  });
};
