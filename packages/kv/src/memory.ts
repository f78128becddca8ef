// The memory store: values in a tree in memory, times from the WallClock.
// Nothing survives the process; `flush` has nothing to do.

import { WallClock } from "@atoll/clock";
import { DisconnectedError, driver } from "@atoll/core";
import { AlreadyPresentError, KeyNotFoundError } from "./errors.js";
import { formatKey, type Key, parseKey } from "./key.js";
import { type EntryKind, type KvEntry, KvRw, type KvValue } from "./signature.js";
import { KeyTree } from "./tree.js";
import {
  checkCount,
  dictionaryDigest,
  dictionaryLastModified,
  partialRange,
  patch,
  sha256Hex,
  toBytes,
} from "./util.js";

interface Stored {
  readonly bytes: Uint8Array;
  readonly mtime: number;
  digest?: string;
}

export class MemoryKv implements KvRw {
  readonly #tree = new KeyTree<Stored>();
  readonly #now: () => number;
  #closed = false;

  constructor(clock: WallClock) {
    this.#now = () => clock.now();
  }

  async exists(key: Key): Promise<EntryKind | undefined> {
    this.#check();
    return this.#tree.find(parseKey(key))?.kind;
  }

  async get(key: Key): Promise<Uint8Array> {
    this.#check();
    return this.#tree.value(parseKey(key)).data.bytes.slice();
  }

  async getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    this.#check();
    const { bytes } = this.#tree.value(parseKey(key)).data;
    const [start, end] = partialRange(bytes.length, offset, length);
    return bytes.slice(start, end);
  }

  async list(key: Key): Promise<KvEntry[]> {
    this.#check();
    return this.#tree.list(parseKey(key));
  }

  async lastModified(key: Key): Promise<number> {
    this.#check();
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "value") return node.data.mtime;
    return dictionaryLastModified(this, this.#tree.list(segments), node.explicit);
  }

  async digest(key: Key): Promise<string> {
    this.#check();
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "dictionary") return dictionaryDigest(this, segments);
    node.data.digest ??= sha256Hex(node.data.bytes);
    return node.data.digest;
  }

  async size(key: Key): Promise<number> {
    this.#check();
    return this.#tree.value(parseKey(key)).data.bytes.length;
  }

  async set(key: Key, value: KvValue): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    const bytes = toBytes(value).slice();
    this.#tree.set(segments, { bytes, mtime: this.#now() });
  }

  async setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    checkCount("offset", offset);
    const node = this.#tree.find(segments);
    const old = node?.kind === "value" ? node.data.bytes : new Uint8Array(0);
    if (node === undefined) this.#tree.checkSet(segments);
    else if (node.kind === "dictionary") this.#tree.value(segments);
    this.#tree.set(segments, { bytes: patch(old, offset, toBytes(data)), mtime: this.#now() });
  }

  async remove(key: Key): Promise<void> {
    this.#check();
    this.#tree.remove(parseKey(key));
  }

  async rename(source: Key, dest: Key): Promise<void> {
    this.#check();
    this.#tree.move(this.#tree.planRename(parseKey(source), parseKey(dest)));
  }

  async allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    this.#check();
    const segments = parseKey(key);
    checkCount("size", size);
    if (this.#tree.find(segments) !== undefined) throw new AlreadyPresentError(formatKey(segments));
    this.#tree.set(segments, { bytes: new Uint8Array(size), mtime: lastModified ?? this.#now() });
  }

  async flush(): Promise<void> {
    this.#check();
  }

  /** Disconnects: later operations reject with ATOLL_DISCONNECTED. */
  close(): void {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new DisconnectedError("memory kv store");
  }
}

export interface MemoryKvOptions {
  /** Values present when the store connects (timestamped with the connect time). */
  readonly initial?: Readonly<Record<string, KvValue>>;
}

/** The memory KvRw driver. Needs a WallClock for modification times. */
export const memoryKv = (options: MemoryKvOptions = {}) =>
  driver({
    name: "kv.memory",
    provides: KvRw,
    needs: { wallClock: WallClock },
    async connect({ wallClock }) {
      const kv = new MemoryKv(wallClock);
      for (const [key, value] of Object.entries(options.initial ?? {})) await kv.set(key, value);
      return kv;
    },
    disconnect: (kv) => (kv as MemoryKv).close(),
  });
