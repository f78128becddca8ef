// The key-value signatures, after mirage-kv's RO and RW: nested dictionaries
// that bind structured keys to values (bytes) or to further dictionaries.

import { type Device, signature } from "@atoll/core";
import type { Key } from "./key.js";

export type EntryKind = "value" | "dictionary";

export interface KvEntry {
  /** The absolute key ("/notes/1"). */
  readonly key: string;
  /** Its last segment ("1"). */
  readonly name: string;
  readonly kind: EntryKind;
}

/**
 * A read-only store. Every method rejects with ATOLL_KV_INVALID_KEY for a
 * malformed key, and with a typed AtollError for anything else.
 */
export interface KvRo extends Device {
  /** What the key is bound to: a value, a dictionary (the root always is), or nothing. */
  exists(key: Key): Promise<EntryKind | undefined>;
  /** The value; ATOLL_KV_NOT_FOUND, or ATOLL_KV_VALUE_EXPECTED for a dictionary. */
  get(key: Key): Promise<Uint8Array>;
  /**
   * `length` bytes of the value from `offset`: shorter at the end of the
   * value, empty past it.
   */
  getPartial(key: Key, offset: number, length: number): Promise<Uint8Array>;
  /**
   * The entries directly in a dictionary, sorted by name; ATOLL_KV_NOT_FOUND,
   * or ATOLL_KV_DICTIONARY_EXPECTED for a value.
   */
  list(key: Key): Promise<KvEntry[]>;
  /**
   * Milliseconds since the Unix epoch when the value last changed; for a
   * dictionary, the latest of its entries (0 for an empty one).
   */
  lastModified(key: Key): Promise<number>;
  /**
   * Hex SHA-256: of the bytes for a value; for a dictionary, of its sorted
   * entries' names, kinds and digests (the same contents give the same digest
   * in every driver).
   */
  digest(key: Key): Promise<string>;
  /** The value's length in bytes; ATOLL_KV_VALUE_EXPECTED for a dictionary. */
  size(key: Key): Promise<number>;
}
export const KvRo = signature<KvRo>()("atoll.kv.ro/1");

/** Bytes, or text stored as UTF-8. */
export type KvValue = Uint8Array | string;

/**
 * A read-write store. Changes are visible to the next call at once; they are
 * durable (survive a crash or power loss) once `flush` resolves.
 */
export interface KvRw extends KvRo {
  /**
   * Binds the key to the value, creating dictionaries on the way; ATOLL_KV_
   * DICTIONARY_EXPECTED when one of them is a value, ATOLL_KV_VALUE_EXPECTED
   * when the key is a dictionary, ATOLL_KV_NO_SPACE when full.
   */
  set(key: Key, value: KvValue): Promise<void>;
  /**
   * Writes `data` into the value at `offset` (at its end when `offset` is past
   * it), keeping the bytes after; creates the value when missing.
   */
  setPartial(key: Key, offset: number, data: KvValue): Promise<void>;
  /** Removes a value, or a dictionary and everything in it. Removing nothing is not an error. */
  remove(key: Key): Promise<void>;
  /**
   * Moves `source` to `dest`, replacing a value there; into `dest` when it is
   * a dictionary. ATOLL_KV_NOT_FOUND without a source, ATOLL_KV_RENAME_SOURCE_
   * PREFIX when moving a dictionary into itself, ATOLL_KV_DICTIONARY_EXPECTED
   * when moving a dictionary onto a value.
   */
  rename(source: Key, dest: Key): Promise<void>;
  /** Creates a value of `size` zero bytes; ATOLL_KV_ALREADY_PRESENT when the key exists. */
  allocate(key: Key, size: number, lastModified?: number): Promise<void>;
  /** Resolves once every change made before the call is durable. */
  flush(): Promise<void>;
}
export const KvRw = signature<KvRw>()("atoll.kv.rw/1");
