// __NAME__: a driver providing KvRw (@atoll/kv). It starts as a layer over
// another store that counts what passes through it — the shape of a cache, a
// compressor, an encrypting store or a client for a remote one: replace the
// delegation with your storage. Its tests run the KvRw conformance suite, the
// same one every in-tree store passes.

import { driver } from "@atoll/core";
import { type EntryKind, type Key, type KvEntry, KvRw, type KvValue } from "@atoll/kv";

export interface __Name__Stats {
  reads: number;
  writes: number;
}

export class __Name__Kv implements KvRw {
  readonly stats: __Name__Stats = { reads: 0, writes: 0 };

  constructor(readonly inner: KvRw) {}

  exists(key: Key): Promise<EntryKind | undefined> {
    this.stats.reads++;
    return this.inner.exists(key);
  }
  get(key: Key): Promise<Uint8Array> {
    this.stats.reads++;
    return this.inner.get(key);
  }
  getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    this.stats.reads++;
    return this.inner.getPartial(key, offset, length);
  }
  list(key: Key): Promise<KvEntry[]> {
    this.stats.reads++;
    return this.inner.list(key);
  }
  lastModified(key: Key): Promise<number> {
    this.stats.reads++;
    return this.inner.lastModified(key);
  }
  digest(key: Key): Promise<string> {
    this.stats.reads++;
    return this.inner.digest(key);
  }
  size(key: Key): Promise<number> {
    this.stats.reads++;
    return this.inner.size(key);
  }
  set(key: Key, value: KvValue): Promise<void> {
    this.stats.writes++;
    return this.inner.set(key, value);
  }
  setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    this.stats.writes++;
    return this.inner.setPartial(key, offset, data);
  }
  remove(key: Key): Promise<void> {
    this.stats.writes++;
    return this.inner.remove(key);
  }
  rename(source: Key, dest: Key): Promise<void> {
    this.stats.writes++;
    return this.inner.rename(source, dest);
  }
  allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    this.stats.writes++;
    return this.inner.allocate(key, size, lastModified);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
}

/** Needs the store it wraps, bound as `inner` (or the only other KvRw binding). */
export const __camel__ = () =>
  driver({
    name: "kv.__NAME__",
    provides: KvRw,
    needs: { inner: KvRw },
    connect: ({ inner }) => new __Name__Kv(inner),
  });
