// Small helpers shared by the drivers: bytes, ranges, digests.

import { sha256 } from "@noble/hashes/sha2";
import { KvRangeError } from "./errors.js";
import type { Key } from "./key.js";
import type { KvEntry, KvValue } from "./signature.js";

const encoder = new TextEncoder();

export function toBytes(value: KvValue): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new TypeError("a value is a Uint8Array or a string");
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Throws KvRangeError unless `n` is a non-negative safe integer. */
export function checkCount(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new KvRangeError(`${name} must be a non-negative integer, got ${n}`);
  }
}

/** get_partial's rule: shorter at the end, empty past it. */
export function partialRange(size: number, offset: number, length: number): [number, number] {
  checkCount("offset", offset);
  checkCount("length", length);
  const start = Math.min(offset, size);
  return [start, Math.min(size, start + length)];
}

/** set_partial's rule: write at `offset`, or at the end when the value is shorter; keep the rest. */
export function patch(old: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
  checkCount("offset", offset);
  const at = Math.min(offset, old.length);
  const out = new Uint8Array(Math.max(old.length, at + data.length));
  out.set(old);
  out.set(data, at);
  return out;
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function sha256Hex(bytes: Uint8Array): string {
  return hex(sha256(bytes));
}

const dictionaryDomain = encoder.encode("atoll.kv.dictionary/1\0");

/**
 * The digest of a dictionary: SHA-256 over its entries in name order, each as
 * kind (1 byte: "v" or "d"), name length (4 bytes, big-endian), UTF-8 name and
 * the entry's own digest (32 bytes).
 */
export async function dictionaryDigest(
  kv: { list(key: Key): Promise<KvEntry[]>; digest(key: Key): Promise<string> },
  key: Key,
): Promise<string> {
  const entries = await kv.list(key);
  const parts: Uint8Array[] = [dictionaryDomain];
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const head = new Uint8Array(5);
    head[0] = entry.kind === "value" ? 0x76 : 0x64;
    new DataView(head.buffer).setUint32(1, name.length);
    parts.push(head, name, fromHex(await kv.digest(entry.key)));
  }
  const h = sha256.create();
  for (const p of parts) h.update(p);
  return hex(h.digest());
}

/** The latest modification among a dictionary's entries (and its own time, if it has one). */
export async function dictionaryLastModified(
  kv: { lastModified(key: Key): Promise<number> },
  entries: readonly KvEntry[],
  own = 0,
): Promise<number> {
  let latest = own;
  for (const entry of entries) latest = Math.max(latest, await kv.lastModified(entry.key));
  return latest;
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A queue that runs async operations one at a time, in order. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation);
    this.#tail = result.catch(() => {});
    return result;
  }
}
