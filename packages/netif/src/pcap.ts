// pcap recording: a Netif that wraps any other Netif and writes every frame
// it sends and receives to a libpcap capture (the classic format every tool
// reads: tcpdump, tshark, Wireshark), timestamped by the WallClock device.
//
// Format (https://www.tcpdump.org/manpages/pcap-savefile.5.html and
// draft-ietf-opsawg-pcap): a 24-byte file header — magic 0xa1b2c3d4 (written
// little-endian, so microsecond timestamps), version 2.4, thiszone 0,
// sigfigs 0, snaplen, LINKTYPE_ETHERNET (1) — then per frame a 16-byte record
// header — seconds, microseconds, captured length, original length — and the
// captured bytes.

import { WallClock } from "@atoll/clock";
import { driver } from "@atoll/core";
import { checkInteger } from "./errors.js";
import { type FrameListener, Netif } from "./signature.js";
import { ETHERNET_HEADER, NetifCounters } from "./stats.js";

/** Where a capture goes. `write` must consume the bytes before it returns (copy or write them out). */
export interface PcapSink {
  write(bytes: Uint8Array): void;
  /** Called once, after the last write, when the recorder closes. */
  close?(): void | Promise<void>;
}

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
export const PCAP_FILE_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;
/** tcpdump's default snapshot length: frames up to this size are captured whole. */
export const DEFAULT_SNAP_LENGTH = 262144;

export interface PcapWriterOptions {
  /** Bytes kept of each frame (larger frames are truncated in the capture, their original length recorded). */
  readonly snapLength?: number;
  /** Bytes buffered before the sink is written (default 64 KiB; larger frames go to the sink directly). */
  readonly bufferBytes?: number;
}

/** Formats a pcap stream into a sink, buffering records into large writes. */
export class PcapWriter {
  readonly snapLength: number;
  readonly #sink: PcapSink;
  readonly #buffer: Uint8Array;
  readonly #view: DataView;
  #used = 0;
  #closed = false;
  /** Frames recorded. */
  records = 0;

  constructor(sink: PcapSink, options: PcapWriterOptions = {}) {
    this.#sink = sink;
    this.snapLength = checkInteger(
      "snapLength",
      options.snapLength ?? DEFAULT_SNAP_LENGTH,
      ETHERNET_HEADER,
      DEFAULT_SNAP_LENGTH,
    );
    this.#buffer = new Uint8Array(
      checkInteger("bufferBytes", options.bufferBytes ?? 65536, 64, 1 << 30),
    );
    this.#view = new DataView(this.#buffer.buffer);
    const v = this.#view;
    v.setUint32(0, PCAP_MAGIC_MICROSECONDS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snapLength, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.#used = PCAP_FILE_HEADER;
  }

  /** Records one frame seen at `timeMs` (milliseconds since the Unix epoch, fractions kept to the microsecond). */
  record(frame: Uint8Array, timeMs: number): void {
    if (this.#closed) return;
    const captured = Math.min(frame.length, this.snapLength);
    const size = PCAP_RECORD_HEADER + captured;
    if (this.#used + size > this.#buffer.length) this.flush();
    const micros = Math.floor(timeMs * 1000);
    const seconds = Math.floor(micros / 1e6);
    const v = this.#view;
    const at = this.#used;
    v.setUint32(at, seconds >>> 0, true);
    v.setUint32(at + 4, micros - seconds * 1e6, true);
    v.setUint32(at + 8, captured, true);
    v.setUint32(at + 12, frame.length, true);
    const data = captured === frame.length ? frame : frame.subarray(0, captured);
    if (size <= this.#buffer.length) {
      this.#buffer.set(data, at + PCAP_RECORD_HEADER);
      this.#used = at + size;
    } else {
      // Larger than the whole buffer: the header, then the frame straight from the caller.
      this.#used = at + PCAP_RECORD_HEADER;
      this.flush();
      this.#sink.write(data);
    }
    this.records++;
  }

  /** Hands what is buffered to the sink. */
  flush(): void {
    if (this.#used === 0) return;
    const used = this.#used;
    this.#used = 0;
    this.#sink.write(this.#buffer.subarray(0, used));
  }

  /** Flushes and closes the sink. Later records are ignored. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    await this.#sink.close?.();
  }
}

/** A sink that keeps the capture in memory: `.bytes()` is a complete pcap file. */
export class MemoryPcapSink implements PcapSink {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;
  closed = false;

  write(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#size += bytes.length;
  }

  close(): void {
    this.closed = true;
  }

  get size(): number {
    return this.#size;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

export interface PcapOptions extends PcapWriterOptions {
  readonly sink: PcapSink;
}

/**
 * A Netif that records every frame the wrapped Netif sends (when it accepts
 * it) and receives. Transparent otherwise: same MAC, MTU and behaviour.
 */
export class PcapNetif implements Netif {
  readonly stats = new NetifCounters();
  readonly writer: PcapWriter;
  readonly #inner: Netif;
  readonly #wallClock: WallClock;
  #listener: FrameListener | undefined;
  #connected = true;

  constructor(inner: Netif, wallClock: WallClock, writer: PcapWriter | PcapOptions) {
    this.#inner = inner;
    this.#wallClock = wallClock;
    this.writer = writer instanceof PcapWriter ? writer : new PcapWriter(writer.sink, writer);
    inner.listen((frame) => this.#receive(frame));
  }

  get mac(): Uint8Array {
    return this.#inner.mac;
  }

  get mtu(): number {
    return this.#inner.mtu;
  }

  get inner(): Netif {
    return this.#inner;
  }

  write(frame: Uint8Array): boolean {
    const stats = this.stats;
    const length = frame.length;
    if (length < ETHERNET_HEADER || length > this.#inner.mtu + ETHERNET_HEADER) {
      stats.txErrors++;
      return false;
    }
    if (!this.#connected || !this.#inner.write(frame)) {
      stats.txDropped++;
      return false;
    }
    this.writer.record(frame, this.#wallClock.now());
    stats.txPackets++;
    stats.txBytes += length;
    return true;
  }

  listen(listener: FrameListener): void {
    this.#listener = listener;
  }

  /** Flushes what is buffered to the sink. */
  flush(): void {
    this.writer.flush();
  }

  /** Stops recording, flushes and closes the sink, releases the wrapped Netif. Idempotent. */
  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    this.#inner.listen(ignore);
    await this.writer.close();
  }

  #receive(frame: Uint8Array): void {
    if (!this.#connected) return;
    this.writer.record(frame, this.#wallClock.now());
    const listener = this.#listener;
    if (listener === undefined) {
      this.stats.rxDropped++;
      return;
    }
    this.stats.rxPackets++;
    this.stats.rxBytes += frame.length;
    listener(frame);
  }
}

const ignore: FrameListener = () => {};

type PcapNeeds<W extends string> = { readonly [K in W]: typeof Netif } & {
  readonly wallClock: typeof WallClock;
};

/**
 * A driver that records the wrapped Netif's traffic in both directions to
 * `sink` (see `pcapFile` in @atoll/netif/node). It needs the Netif to wrap (the
 * binding named by `wraps`, default "netif") and a WallClock. Disconnecting
 * flushes and closes the sink.
 */
export function pcap<const W extends string = "netif">(
  options: PcapOptions & { readonly wraps?: W },
) {
  const wraps = (options.wraps ?? "netif") as W;
  const needs = { [wraps]: Netif, wallClock: WallClock } as PcapNeeds<W>;
  return driver({
    name: "netif.pcap",
    provides: Netif,
    needs,
    connect: (devices) => {
      const all = devices as unknown as Record<string, unknown> & { wallClock: WallClock };
      return new PcapNetif(all[wraps] as Netif, all.wallClock, options);
    },
    disconnect: (device) => (device as PcapNetif).disconnect(),
  });
}
