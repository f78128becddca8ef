// IPv4 reassembly (RFC 791 §3.2, RFC 815's hole idea, with limits after
// RFC 1122 §3.3.2 and Linux's ipfrag_*): fragments are keyed by source,
// destination, protocol and identification, kept as copies until they cover
// the whole datagram, then joined behind the first fragment's header. Every
// resource is bounded: datagrams in progress, fragments per datagram, bytes
// held in total, and time (30 s by default). Exact duplicates are ignored;
// a fragment that overlaps another in any other way discards the datagram
// (as RFC 5722 requires for IPv6: overlaps are how filters are evaded).

import type { Time, Timer } from "@atoll/clock";
import { writeUint16 } from "../wire/bytes.js";
import { finishChecksum, sumWords } from "../wire/checksum.js";
import {
  ipv4Destination,
  ipv4FragmentOffset,
  ipv4HeaderLength,
  ipv4Identification,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
} from "../wire/ipv4.js";

export interface ReassemblyOptions {
  /** Give up on a datagram this long after its first fragment arrived, ns (default 30 s). */
  readonly timeoutNs?: number;
  /** Datagrams being reassembled at once (default 64); the oldest is discarded for a new one. */
  readonly maxDatagrams?: number;
  /** Fragments per datagram (default 64); one more discards the datagram. */
  readonly maxFragments?: number;
  /** Bytes held over all datagrams (default 1 MiB); the oldest datagrams are discarded to make room. */
  readonly maxBytes?: number;
}

export interface ReassemblyCounters {
  fragmentsReceived: number;
  reassembled: number;
  duplicates: number;
  overlaps: number;
  timeouts: number;
  /** Datagrams discarded for the fragment, datagram or byte limits, or inconsistent lengths. */
  discarded: number;
}

interface Fragment {
  readonly start: number;
  readonly end: number;
  readonly data: Uint8Array;
}

class Datagram {
  fragments: Fragment[] = [];
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  total = -1;
  /** A copy of the first fragment's header (offset 0), once it arrived. */
  header: Uint8Array | undefined = undefined;
  bytes = 0;
  timer: Timer | undefined = undefined;
  constructor(readonly key: string) {}
}

export class Reassembler {
  readonly #datagrams = new Map<string, Datagram>();
  readonly #time: Time;
  readonly #timeout: number;
  readonly #maxDatagrams: number;
  readonly #maxFragments: number;
  readonly #maxBytes: number;
  readonly #onTimeout: (header: Uint8Array, firstBytes: Uint8Array) => void;
  #bytes = 0;
  readonly counters: ReassemblyCounters = {
    fragmentsReceived: 0,
    reassembled: 0,
    duplicates: 0,
    overlaps: 0,
    timeouts: 0,
    discarded: 0,
  };

  /**
   * `onTimeout` receives the first fragment's header and up to 8 payload
   * bytes when a datagram times out after its first fragment arrived (for
   * ICMP time exceeded, RFC 792).
   */
  constructor(
    time: Time,
    options: ReassemblyOptions = {},
    onTimeout: (header: Uint8Array, firstBytes: Uint8Array) => void = () => {},
  ) {
    this.#time = time;
    this.#timeout = options.timeoutNs ?? 30e9;
    this.#maxDatagrams = Math.max(1, options.maxDatagrams ?? 64);
    this.#maxFragments = Math.max(2, options.maxFragments ?? 64);
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#onTimeout = onTimeout;
  }

  /** Datagrams in progress. */
  get size(): number {
    return this.#datagrams.size;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds the fragment at buffer[offset...] (a packet checkIpv4 accepted).
   * Returns the whole datagram, header first, with its length and fragment
   * fields rewritten, when this fragment completes it.
   */
  add(buffer: Uint8Array, offset: number): Uint8Array | undefined {
    this.counters.fragmentsReceived++;
    const headerLength = ipv4HeaderLength(buffer, offset);
    const start = ipv4FragmentOffset(buffer, offset);
    const length = ipv4TotalLength(buffer, offset) - headerLength;
    const end = start + length;
    const last = !ipv4MoreFragments(buffer, offset);
    const key = `${ipv4Source(buffer, offset)}/${ipv4Destination(buffer, offset)}/${ipv4Protocol(buffer, offset)}/${ipv4Identification(buffer, offset)}`;

    let datagram = this.#datagrams.get(key);
    if (datagram === undefined) {
      if (length > this.#maxBytes) {
        this.counters.discarded++;
        return undefined;
      }
      while (this.#datagrams.size >= this.#maxDatagrams) this.#discardOldest();
      datagram = new Datagram(key);
      this.#datagrams.set(key, datagram);
      const d = datagram;
      datagram.timer = this.#time.setTimer(this.#timeout, () => this.#expire(d));
    }

    for (const f of datagram.fragments) {
      if (start < f.end && f.start < end) {
        if (f.start === start && f.end === end) {
          this.counters.duplicates++;
          return undefined;
        }
        this.counters.overlaps++;
        this.#remove(datagram);
        return undefined;
      }
    }
    if (
      (last && datagram.total >= 0 && datagram.total !== end) ||
      (last && datagram.fragments.some((f) => f.end > end)) ||
      (datagram.total >= 0 && end > datagram.total) ||
      datagram.fragments.length >= this.#maxFragments
    ) {
      this.counters.discarded++;
      this.#remove(datagram);
      return undefined;
    }
    while (this.#bytes + length > this.#maxBytes) {
      const oldest = this.#datagrams.values().next().value as Datagram;
      if (oldest === datagram) {
        this.counters.discarded++;
        this.#remove(datagram);
        return undefined;
      }
      this.#discardOldest();
    }

    const data = buffer.slice(offset + headerLength, offset + headerLength + length);
    const fragments = datagram.fragments;
    let i = fragments.length;
    while (i > 0 && fragments[i - 1]!.start > start) i--;
    fragments.splice(i, 0, { start, end, data });
    datagram.bytes += length;
    this.#bytes += length;
    if (last) datagram.total = end;
    if (start === 0) datagram.header = buffer.slice(offset, offset + headerLength);

    if (datagram.total < 0 || datagram.header === undefined) return undefined;
    let covered = 0;
    for (const f of fragments) {
      if (f.start !== covered) return undefined;
      covered = f.end;
    }
    if (covered !== datagram.total) return undefined;
    return this.#join(datagram);
  }

  /** Discards everything and cancels the timers. */
  clear(): void {
    for (const d of [...this.#datagrams.values()]) this.#remove(d);
  }

  #join(datagram: Datagram): Uint8Array {
    const header = datagram.header!;
    const out = new Uint8Array(header.length + datagram.total);
    out.set(header);
    for (const f of datagram.fragments) out.set(f.data, header.length + f.start);
    writeUint16(out, 2, out.length);
    out[6] = out[6]! & 0x40; // keep DF, clear MF and the offset
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    writeUint16(out, 10, finishChecksum(sumWords(out, 0, header.length)));
    this.counters.reassembled++;
    this.#remove(datagram);
    return out;
  }

  #expire(datagram: Datagram): void {
    datagram.timer = undefined;
    if (this.#datagrams.get(datagram.key) !== datagram) return;
    this.counters.timeouts++;
    const header = datagram.header;
    const first = datagram.fragments[0];
    this.#remove(datagram);
    if (header !== undefined && first !== undefined && first.start === 0) {
      this.#onTimeout(header, first.data.subarray(0, 8));
    }
  }

  #discardOldest(): void {
    const oldest = this.#datagrams.values().next().value as Datagram | undefined;
    if (oldest === undefined) return;
    this.counters.discarded++;
    this.#remove(oldest);
  }

  #remove(datagram: Datagram): void {
    datagram.timer?.cancel();
    datagram.timer = undefined;
    this.#bytes -= datagram.bytes;
    datagram.bytes = 0;
    datagram.fragments = [];
    this.#datagrams.delete(datagram.key);
  }
}
