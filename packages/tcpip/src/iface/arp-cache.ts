// The ARP cache (RFC 826, with the timing of RFC 1122 §2.3.2): IPv4 address →
// MAC, with expiry, a bound on the number of entries, resolution by broadcast
// requests retried with exponential backoff, a bounded queue of frames per
// address waiting for the answer, and a unicast refresh of entries still in
// use shortly before they expire. Sending is left to the interface through
// the ArpLink callbacks; the cache owns only state and timers.

import type { Time, Timer } from "@atoll/clock";

export interface ArpOptions {
  /** How long a learned entry stays valid, ns (default 60 s). */
  readonly entryLifetimeNs?: number;
  /** Most entries, resolved or pending (default 1024); the oldest is evicted first. */
  readonly maxEntries?: number;
  /** Requests sent for one resolution before giving up (default 4). */
  readonly maxRequests?: number;
  /** Wait after the first request, doubled after each retry, ns (default 1 s). */
  readonly retryNs?: number;
  /** Frames queued per unresolved address (default 64). */
  readonly maxPendingPerAddress?: number;
  /** Bytes queued over all unresolved addresses (default 1 MiB). */
  readonly maxPendingBytes?: number;
  /** When an entry in use is this close to expiry, a unicast request refreshes it, ns (default 5 s). */
  readonly refreshNs?: number;
}

/** A frame waiting for its destination's MAC: bytes [start, end) of `buffer`, Ethernet header first. */
export interface PendingFrame {
  readonly buffer: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** True when `buffer` came from the interface's pool and goes back to it once sent or dropped. */
  readonly pooled: boolean;
  /** Called once: true when the frame was handed to the link, false when it was dropped. */
  readonly done: ((sent: boolean) => void) | undefined;
}

/** What the cache asks of the interface. */
export interface ArpLink {
  /** Broadcasts a request for `ip` (or unicasts it to `mac` for a refresh). */
  request(ip: number, mac: Uint8Array | undefined): void;
  /** Writes the destination MAC into a queued frame and sends it. */
  transmit(frame: PendingFrame, mac: Uint8Array): void;
  /** A queued frame is dropped (resolution failed, queue full, entry evicted). */
  drop(frame: PendingFrame): void;
}

export interface ArpCounters {
  requestsSent: number;
  repliesSent: number;
  requestsReceived: number;
  repliesReceived: number;
  resolutionsFailed: number;
  evictions: number;
  pendingDropped: number;
  conflicts: number;
  rxErrors: number;
}

class ArpEntry {
  /** Undefined while resolving. */
  mac: Uint8Array | undefined = undefined;
  expiresAt = 0;
  /** Close to expiry: the next use starts a refresh. */
  stale = false;
  /** Requests sent in the current resolution or refresh. */
  requests = 0;
  refreshing = false;
  /** Retries of a resolution or refresh. */
  timer: Timer | undefined = undefined;
  /** Staleness, then expiry, of a resolved entry (so lookups never read the clock). */
  lifeTimer: Timer | undefined = undefined;
  pending: PendingFrame[] | undefined = undefined;
  pendingBytes = 0;
  constructor(readonly ip: number) {}
}

export class ArpCache {
  readonly #entries = new Map<number, ArpEntry>();
  readonly #time: Time;
  readonly #now: () => number;
  readonly #link: ArpLink;
  readonly #lifetime: number;
  readonly #maxEntries: number;
  readonly #maxRequests: number;
  readonly #retry: number;
  readonly #maxPendingPerAddress: number;
  readonly #maxPendingBytes: number;
  readonly #refresh: number;
  #pendingBytes = 0;
  /**
   * Changes whenever an answer could change: an entry resolved, re-resolved,
   * gone stale or removed. Callers may cache a lookup while it stays the same.
   */
  generation = 0;
  readonly counters: ArpCounters = {
    requestsSent: 0,
    repliesSent: 0,
    requestsReceived: 0,
    repliesReceived: 0,
    resolutionsFailed: 0,
    evictions: 0,
    pendingDropped: 0,
    conflicts: 0,
    rxErrors: 0,
  };

  constructor(time: Time, now: () => number, link: ArpLink, options: ArpOptions = {}) {
    this.#time = time;
    this.#now = now;
    this.#link = link;
    this.#lifetime = options.entryLifetimeNs ?? 60e9;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 1024);
    this.#maxRequests = Math.max(1, options.maxRequests ?? 4);
    this.#retry = options.retryNs ?? 1e9;
    this.#maxPendingPerAddress = options.maxPendingPerAddress ?? 64;
    this.#maxPendingBytes = options.maxPendingBytes ?? 1 << 20;
    this.#refresh = Math.min(options.refreshNs ?? 5e9, this.#lifetime / 2);
  }

  /** Entries held, resolved or pending. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of frames waiting for resolution. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * The MAC for `ip` when resolved. Starts a refresh when the entry is close
   * to expiry. Expiry is driven by timers, so this reads no clock: it runs
   * for every frame sent.
   */
  lookup(ip: number): Uint8Array | undefined {
    const entry = this.#entries.get(ip);
    if (entry === undefined) return undefined;
    if (entry.stale && !entry.refreshing) this.#startRefresh(entry);
    return entry.mac;
  }

  /** True when `ip` is resolved but close to expiry (its next use refreshes it). */
  isStale(ip: number): boolean {
    return this.#entries.get(ip)?.stale === true;
  }

  /**
   * Queues `frame` until `ip` resolves, starting a resolution if none is
   * running. Returns false (and calls nothing) when the frame cannot be queued.
   */
  enqueue(ip: number, frame: PendingFrame): boolean {
    let entry = this.#entries.get(ip);
    if (entry !== undefined && entry.mac !== undefined) {
      // Resolved meanwhile (the caller looked up before): resolve afresh all the same.
      this.#remove(entry);
      entry = undefined;
    }
    const size = frame.end - frame.start;
    if (entry === undefined) {
      if (size > this.#maxPendingBytes) return false;
      entry = new ArpEntry(ip);
      this.#insert(entry);
      entry.pending = [];
      this.#sendRequest(entry);
    }
    const pending = entry.pending!;
    if (pending.length >= this.#maxPendingPerAddress) return false;
    if (this.#pendingBytes + size > this.#maxPendingBytes) return false;
    pending.push(frame);
    entry.pendingBytes += size;
    this.#pendingBytes += size;
    return true;
  }

  /**
   * Learns from a received ARP packet (RFC 826's merge): updates an existing
   * entry for the sender, and adds one when the packet was meant for us.
   */
  learn(ip: number, mac: Uint8Array, addressedToUs: boolean): void {
    const entry = this.#entries.get(ip);
    if (entry === undefined) {
      if (!addressedToUs) return;
      const fresh = new ArpEntry(ip);
      this.#insert(fresh);
      this.#resolved(fresh, mac);
      return;
    }
    this.#resolved(entry, mac);
  }

  /** Forgets every entry, dropping queued frames and cancelling timers. */
  clear(): void {
    for (const entry of [...this.#entries.values()]) this.#remove(entry);
  }

  /** Snapshot for tests and diagnostics. */
  entries(): Array<{
    ip: number;
    mac: Uint8Array | undefined;
    expiresAt: number;
    pending: number;
  }> {
    return [...this.#entries.values()].map((e) => ({
      ip: e.ip,
      mac: e.mac,
      expiresAt: e.expiresAt,
      pending: e.pending?.length ?? 0,
    }));
  }

  #resolved(entry: ArpEntry, mac: Uint8Array): void {
    this.generation++;
    if (entry.mac === undefined || !sameMac(entry.mac, mac)) entry.mac = mac.slice(0, 6);
    entry.expiresAt = this.#now() + this.#lifetime;
    entry.stale = false;
    entry.refreshing = false;
    entry.requests = 0;
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.lifeTimer?.cancel();
    entry.lifeTimer = this.#time.setTimer(this.#lifetime - this.#refresh, () => {
      entry.stale = true;
      this.generation++;
      entry.lifeTimer = this.#time.setTimer(this.#refresh, () => {
        entry.lifeTimer = undefined;
        if (this.#entries.get(entry.ip) === entry) this.#remove(entry);
      });
    });
    // Keep the Map in order of last confirmation, so eviction takes the stalest.
    this.#entries.delete(entry.ip);
    this.#entries.set(entry.ip, entry);
    const pending = entry.pending;
    if (pending !== undefined) {
      entry.pending = undefined;
      this.#pendingBytes -= entry.pendingBytes;
      entry.pendingBytes = 0;
      for (const frame of pending) this.#link.transmit(frame, entry.mac);
    }
  }

  #insert(entry: ArpEntry): void {
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.values().next().value as ArpEntry;
      this.counters.evictions++;
      this.#remove(oldest);
    }
    this.#entries.set(entry.ip, entry);
  }

  #remove(entry: ArpEntry): void {
    this.generation++;
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.lifeTimer?.cancel();
    entry.lifeTimer = undefined;
    this.#entries.delete(entry.ip);
    const pending = entry.pending;
    if (pending !== undefined) {
      entry.pending = undefined;
      this.#pendingBytes -= entry.pendingBytes;
      entry.pendingBytes = 0;
      this.counters.pendingDropped += pending.length;
      for (const frame of pending) this.#link.drop(frame);
    }
  }

  #sendRequest(entry: ArpEntry): void {
    const wait = this.#retry * 2 ** entry.requests;
    entry.requests++;
    this.counters.requestsSent++;
    entry.timer = this.#time.setTimer(wait, () => this.#retryOrFail(entry));
    this.#link.request(entry.ip, entry.refreshing ? entry.mac : undefined);
  }

  #retryOrFail(entry: ArpEntry): void {
    entry.timer = undefined;
    if (this.#entries.get(entry.ip) !== entry) return;
    if (entry.refreshing) {
      // A refresh gives up quietly: the entry expires when its time comes.
      if (entry.requests < 2) this.#sendRequest(entry);
      return;
    }
    if (entry.requests < this.#maxRequests) {
      this.#sendRequest(entry);
      return;
    }
    this.counters.resolutionsFailed++;
    this.#remove(entry);
  }

  #startRefresh(entry: ArpEntry): void {
    entry.refreshing = true;
    entry.requests = 0;
    this.#sendRequest(entry);
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
