// @atoll/kv/node: the directory store. Keys are paths below one host
// directory, read-only or read-write, and never anything outside it: keys
// cannot hold "..", symbolic links are neither followed nor listed, files are
// opened with O_NOFOLLOW and (on Linux) checked through /proc/self/fd to be
// inside the root after opening. Limits: a host process that swaps a
// directory for a symbolic link during a directory operation (mkdir, readdir,
// rename) races these checks; the driver assumes the root is not under attack
// while it runs. Modification times come from the WallClock device.

import { constants, type Dirent, promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { WallClock } from "@atoll/clock";
import { arg, DisconnectedError, driver } from "@atoll/core";
import {
  AlreadyPresentError,
  DictionaryExpectedError,
  KeyNotFoundError,
  KvIoError,
  NoSpaceError,
  RenameSourcePrefixError,
  ValueExpectedError,
} from "./errors.js";
import { formatKey, isPrefix, type Key, parseKey } from "./key.js";
import { type EntryKind, type KvEntry, KvRo, KvRw, type KvValue } from "./signature.js";
import { compareNames } from "./tree.js";
import {
  checkCount,
  dictionaryDigest,
  dictionaryLastModified,
  partialRange,
  sha256Hex,
  toBytes,
} from "./util.js";
import { readOnlyView } from "./view.js";

const TEMP_MARK = ".atoll-tmp-";

/** What a key names on the host, and what stands in the way when nothing does. */
interface Inspection {
  readonly kind: EntryKind | undefined;
  /** Index of the first segment that is a regular file (a value) on the way. */
  readonly valueAt?: number;
  /** Index of the first segment that is a symbolic link or a special file. */
  readonly blockedAt?: number;
}

export class DirectoryKv implements KvRw {
  readonly #root: string;
  readonly #now: () => number;
  readonly #dirtyFiles = new Set<string>();
  readonly #dirtyDirs = new Set<string>();
  #temp = 0;
  #closed = false;

  private constructor(root: string, now: () => number) {
    this.#root = root;
    this.#now = now;
  }

  /** Opens `root` (which must be a directory; created when `create` is set). */
  static async open(
    root: string,
    clock: WallClock | undefined,
    options: { readonly create?: boolean } = {},
  ): Promise<DirectoryKv> {
    try {
      if (options.create === true) await fsp.mkdir(root, { recursive: true });
      const real = await fsp.realpath(root);
      const stat = await fsp.stat(real);
      if (!stat.isDirectory()) throw new KvIoError(`${root} is not a directory`);
      return new DirectoryKv(real, () => clock?.now() ?? 0);
    } catch (error) {
      throw hostError(`cannot open the directory ${root}`, error);
    }
  }

  /** The real path of the root directory. */
  get root(): string {
    return this.#root;
  }

  async exists(key: Key): Promise<EntryKind | undefined> {
    this.#check();
    return (await this.#inspect(parseKey(key))).kind;
  }

  async get(key: Key): Promise<Uint8Array> {
    this.#check();
    const segments = parseKey(key);
    await this.#expectValue(segments);
    return this.#read(segments, 0, Number.POSITIVE_INFINITY);
  }

  async getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    this.#check();
    const segments = parseKey(key);
    checkCount("offset", offset);
    checkCount("length", length);
    await this.#expectValue(segments);
    return this.#read(segments, offset, length);
  }

  async list(key: Key): Promise<KvEntry[]> {
    this.#check();
    const segments = parseKey(key);
    const inspection = await this.#inspect(segments);
    if (inspection.kind === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (inspection.kind === "value") throw new DictionaryExpectedError(formatKey(segments));
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(this.#path(segments), { withFileTypes: true });
    } catch (error) {
      throw hostError(`cannot list ${formatKey(segments)}`, error);
    }
    const out: KvEntry[] = [];
    for (const e of entries) {
      if (e.name.includes(TEMP_MARK)) continue;
      const kind = e.isFile() ? "value" : e.isDirectory() ? "dictionary" : undefined;
      if (kind === undefined) continue; // symbolic links, sockets, devices: not part of the store
      try {
        parseKey([e.name]);
      } catch {
        continue;
      }
      out.push({ key: formatKey([...segments, e.name]), name: e.name, kind });
    }
    return out.sort((a, b) => compareNames(a.name, b.name));
  }

  async lastModified(key: Key): Promise<number> {
    this.#check();
    const segments = parseKey(key);
    const inspection = await this.#inspect(segments);
    if (inspection.kind === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (inspection.kind === "dictionary") {
      return dictionaryLastModified(this, await this.list(segments));
    }
    const stat = await fsp.lstat(this.#path(segments)).catch((e: unknown) => {
      throw hostError(`cannot stat ${formatKey(segments)}`, e);
    });
    return Math.round(stat.mtimeMs);
  }

  async digest(key: Key): Promise<string> {
    this.#check();
    const segments = parseKey(key);
    const inspection = await this.#inspect(segments);
    if (inspection.kind === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (inspection.kind === "dictionary") return dictionaryDigest(this, segments);
    return sha256Hex(await this.#read(segments, 0, Number.POSITIVE_INFINITY));
  }

  async size(key: Key): Promise<number> {
    this.#check();
    const segments = parseKey(key);
    await this.#expectValue(segments);
    const handle = await this.#open(segments, constants.O_RDONLY);
    try {
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  }

  async set(key: Key, value: KvValue): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    const bytes = toBytes(value);
    await this.#prepareWrite(segments);
    await this.#replace(segments, bytes, this.#now());
  }

  async setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    checkCount("offset", offset);
    const bytes = toBytes(data);
    const inspection = await this.#prepareWrite(segments);
    if (inspection.kind === undefined) {
      await this.#replace(segments, bytes, this.#now());
      return;
    }
    const handle = await this.#open(segments, constants.O_RDWR);
    try {
      const { size } = await handle.stat();
      await handle.write(bytes, 0, bytes.length, Math.min(offset, size));
      const t = this.#now() / 1000;
      await handle.utimes(t, t);
    } catch (error) {
      throw hostError(`cannot write ${formatKey(segments)}`, error);
    } finally {
      await handle.close();
    }
    this.#dirtyFiles.add(this.#path(segments));
  }

  async remove(key: Key): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    if (segments.length === 0) {
      for (const e of await fsp.readdir(this.#root)) {
        await fsp.rm(path.join(this.#root, e), { recursive: true, force: true });
      }
      this.#dirtyDirs.add(this.#root);
      return;
    }
    const inspection = await this.#inspect(segments);
    if (inspection.kind === undefined) return;
    try {
      await fsp.rm(this.#path(segments), { recursive: true, force: true });
    } catch (error) {
      throw hostError(`cannot remove ${formatKey(segments)}`, error);
    }
    await this.#prune(segments.slice(0, -1));
  }

  async rename(source: Key, dest: Key): Promise<void> {
    this.#check();
    const from = parseKey(source);
    const target = parseKey(dest);
    const src = formatKey(from);
    if (from.length === 0) throw new RenameSourcePrefixError(src, formatKey(target));
    const fromKind = (await this.#inspect(from)).kind;
    if (fromKind === undefined) throw new KeyNotFoundError(src);
    const destKind = (await this.#inspect(target)).kind;
    let to = target;
    if (destKind === "dictionary") to = [...target, from.at(-1)!];
    else if (destKind === "value" && fromKind === "dictionary") {
      throw new DictionaryExpectedError(formatKey(target));
    }
    if (fromKind === "dictionary" && isPrefix(from, to)) {
      throw new RenameSourcePrefixError(src, formatKey(target));
    }
    if (to.length === from.length && isPrefix(from, to)) return;
    const under = isPrefix(from, to);
    for (let i = 0; i < to.length - 1; i++) {
      if (under && i + 1 === from.length) break;
      const step = await this.#inspect(to.slice(0, i + 1));
      if (step.blockedAt !== undefined) throw this.#blocked(to.slice(0, i + 1));
      if (step.kind === "value") throw new DictionaryExpectedError(formatKey(to));
      if (step.kind === undefined) break;
    }
    try {
      let moving = this.#path(from);
      if (under) {
        // The destination is below the source (a value becoming a dictionary): step aside first.
        const aside = path.join(this.#root, `${TEMP_MARK}${process.pid}-${this.#temp++}`);
        await fsp.rename(moving, aside);
        moving = aside;
      }
      await fsp.rm(this.#path(to), { recursive: true, force: true });
      await this.#makeDictionaries(to.slice(0, -1));
      await fsp.rename(moving, this.#path(to));
    } catch (error) {
      throw hostError(`cannot move ${src} to ${formatKey(to)}`, error);
    }
    this.#dirtyDirs.add(path.dirname(this.#path(to)));
    this.#dirtyDirs.add(path.dirname(this.#path(from)));
    if (!under) await this.#prune(from.slice(0, -1));
  }

  async allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    checkCount("size", size);
    const inspection = await this.#inspect(segments);
    if (inspection.kind !== undefined) throw new AlreadyPresentError(formatKey(segments));
    await this.#prepareWrite(segments);
    await this.#replace(segments, size, lastModified ?? this.#now());
  }

  /** fsyncs every file written and every directory changed since the last flush. */
  async flush(): Promise<void> {
    this.#check();
    const files = [...this.#dirtyFiles];
    const dirs = [...this.#dirtyDirs];
    this.#dirtyFiles.clear();
    this.#dirtyDirs.clear();
    for (const target of [...files, ...dirs]) {
      let handle: FileHandle;
      try {
        handle = await fsp.open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        continue; // removed since
      }
      try {
        await handle.sync();
      } catch (error) {
        throw hostError(`fsync ${target}`, error);
      } finally {
        await handle.close();
      }
    }
  }

  close(): void {
    this.#closed = true;
  }

  // ---- host paths ------------------------------------------------------------------------

  #path(segments: readonly string[]): string {
    return path.join(this.#root, ...segments);
  }

  async #inspect(segments: readonly string[]): Promise<Inspection> {
    for (let i = 0; i < segments.length; i++) {
      let stat: Stats;
      try {
        stat = await fsp.lstat(this.#path(segments.slice(0, i + 1)));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return { kind: undefined };
        throw hostError(`cannot look up ${formatKey(segments)}`, error);
      }
      if (stat.isDirectory()) continue;
      if (stat.isFile()) {
        return i === segments.length - 1 ? { kind: "value" } : { kind: undefined, valueAt: i };
      }
      return { kind: undefined, blockedAt: i };
    }
    return { kind: "dictionary" };
  }

  async #expectValue(segments: readonly string[]): Promise<void> {
    const { kind } = await this.#inspect(segments);
    if (kind === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (kind === "dictionary") throw new ValueExpectedError(formatKey(segments));
  }

  #blocked(segments: readonly string[]): KvIoError {
    return new KvIoError(
      `${formatKey(segments)} is a symbolic link or special file: the directory store does not follow it`,
    );
  }

  /** Checks a write to `segments` could succeed; returns what is there now. */
  async #prepareWrite(segments: readonly string[]): Promise<Inspection> {
    if (segments.length === 0) throw new ValueExpectedError("/");
    const inspection = await this.#inspect(segments);
    if (inspection.valueAt !== undefined) throw new DictionaryExpectedError(formatKey(segments));
    if (inspection.blockedAt !== undefined) {
      throw this.#blocked(segments.slice(0, inspection.blockedAt + 1));
    }
    if (inspection.kind === "dictionary") throw new ValueExpectedError(formatKey(segments));
    return inspection;
  }

  /** Opens a value's file without following links, and checks where it really is. */
  async #open(segments: readonly string[], flags: number): Promise<FileHandle> {
    const target = this.#path(segments);
    let handle: FileHandle;
    try {
      handle = await fsp.open(target, flags | constants.O_NOFOLLOW);
    } catch (error) {
      throw hostError(`cannot open ${formatKey(segments)}`, error);
    }
    if (process.platform === "linux") {
      const real = await fsp.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
      if (real !== undefined && real !== target && !real.startsWith(`${this.#root}${path.sep}`)) {
        await handle.close();
        throw new KvIoError(`${formatKey(segments)} resolves outside the store's directory`);
      }
    }
    return handle;
  }

  async #read(segments: readonly string[], offset: number, length: number): Promise<Uint8Array> {
    const handle = await this.#open(segments, constants.O_RDONLY);
    try {
      const { size } = await handle.stat();
      const [start, end] = partialRange(size, offset, Math.min(length, size));
      const out = new Uint8Array(end - start);
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await handle.read(out, at, out.length - at, start + at);
        if (bytesRead === 0) return out.subarray(0, at); // shrank under us
        at += bytesRead;
      }
      return out;
    } catch (error) {
      throw hostError(`cannot read ${formatKey(segments)}`, error);
    } finally {
      await handle.close();
    }
  }

  async #makeDictionaries(segments: readonly string[]): Promise<void> {
    for (let i = 1; i <= segments.length; i++) {
      const dir = this.#path(segments.slice(0, i));
      try {
        await fsp.mkdir(dir);
        this.#dirtyDirs.add(path.dirname(dir));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const stat = await fsp.lstat(dir);
        if (!stat.isDirectory()) throw new DictionaryExpectedError(formatKey(segments));
      }
    }
  }

  /** Writes a new file (bytes, or `size` zeros) beside the target and renames it over. */
  async #replace(segments: readonly string[], content: Uint8Array | number, mtime: number) {
    const target = this.#path(segments);
    try {
      await this.#makeDictionaries(segments.slice(0, -1));
      const temp = `${target}${TEMP_MARK}${process.pid}-${this.#temp++}`;
      const handle = await fsp.open(
        temp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      try {
        if (typeof content === "number") await handle.truncate(content);
        else if (content.length > 0) await handle.writeFile(content);
        await handle.utimes(mtime / 1000, mtime / 1000);
      } finally {
        await handle.close();
      }
      await fsp.rename(temp, target);
    } catch (error) {
      throw hostError(`cannot write ${formatKey(segments)}`, error);
    }
    this.#dirtyFiles.add(target);
    this.#dirtyDirs.add(path.dirname(target));
  }

  /** Removes dictionaries left empty, like the other stores' implicit dictionaries. */
  async #prune(segments: readonly string[]): Promise<void> {
    for (let i = segments.length; i > 0; i--) {
      const dir = this.#path(segments.slice(0, i));
      try {
        await fsp.rmdir(dir);
        this.#dirtyDirs.add(path.dirname(dir));
      } catch {
        return; // not empty (or gone): stop
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new DisconnectedError(`directory store ${this.#root}`);
  }
}

function hostError(what: string, error: unknown): Error {
  if (
    error instanceof Error &&
    "code" in error &&
    String((error as { code: unknown }).code).startsWith("ATOLL_")
  ) {
    return error;
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new NoSpaceError(`${what}: ${code}`);
  return new KvIoError(`${what}: ${code ?? String(error)}`, { cause: error });
}

export interface DirectoryKvOptions {
  /** The directory; the default of the `root` runtime argument. */
  readonly root?: string;
  /** Create the directory when it does not exist (read-write only). */
  readonly create?: boolean;
}

const rootArg = (options: DirectoryKvOptions) => ({
  root: arg.string(
    options.root === undefined
      ? { doc: "host directory holding the store" }
      : { doc: "host directory holding the store", default: options.root },
  ),
});

/** The read-write directory store. Needs a WallClock for modification times. */
export const directoryKv = (options: DirectoryKvOptions = {}) =>
  driver({
    name: "kv.directory",
    provides: KvRw,
    needs: { wallClock: WallClock },
    args: rootArg(options),
    connect: ({ wallClock }, { root }) =>
      DirectoryKv.open(root, wallClock, { create: options.create === true }),
    disconnect: async (kv) => {
      await (kv as DirectoryKv).flush();
      (kv as DirectoryKv).close();
    },
  });

/** The read-only directory store: a KvRo view of the directory. */
export const directoryKvRo = (options: Omit<DirectoryKvOptions, "create"> = {}) => {
  const open = new WeakMap<KvRo, DirectoryKv>();
  return driver({
    name: "kv.directory-ro",
    provides: KvRo,
    args: rootArg(options),
    async connect(_devices, { root }) {
      const kv = await DirectoryKv.open(root, undefined);
      const view = readOnlyView(kv);
      open.set(view, kv);
      return view;
    },
    disconnect: (view) => open.get(view)?.close(),
  });
};
