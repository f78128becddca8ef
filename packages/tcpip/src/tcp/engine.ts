// The TCP engine of one stack: demultiplexes segments to connections and
// listeners, opens connections (ISNs per RFC 6528, ephemeral ports from the
// Random device), answers SYN floods with a bounded half-open queue and SYN
// cookies, drives every connection's timers from one device timer, and batches
// application notifications into one microtask per turn.

import type { MonotonicClock, Time } from "@atoll/clock";
import {
  AbortedError,
  type AtollError,
  formatIpv4,
  type Logger,
  parseIpv4,
  silentLogger,
} from "@atoll/core";
import type { Random } from "@atoll/entropy";
import { AddressInUseError, ConnectionClosedError, NetworkUnreachableError } from "../errors.js";
import type { ConnectOptions, Flow, ListenOptions, Tcp } from "../signature.js";
import { type ResolvedTcpConfig, resolveConfig, type TcpConfig } from "./config.js";
import { type CongestionControlName, createCongestionControl } from "./congestion.js";
import {
  CLOSE_WAIT,
  Connection,
  type ConnectionHost,
  ESTABLISHED,
  OFFER_SACK,
  OFFER_TIMESTAMPS,
  OFFER_WSCALE,
  SegmentIn,
  SYN_RECEIVED,
  TIME_WAIT,
} from "./connection.js";
import { TcpFlow } from "./flow.js";
import type { TcpLower, TcpUpper } from "./lower.js";
import { BufferPool } from "./ring.js";
import { seqAdd } from "./seq.js";
import { SipHash } from "./siphash.js";
import { TcpStats } from "./stats.js";
import { TimerQueue } from "./timers.js";
import {
  ACK,
  ackNumber,
  checkHeader,
  dstPort as dstPortOf,
  FIN,
  fillChecksum,
  flags as flagsOf,
  MAX_WINDOW_SHIFT,
  parseOptions,
  RST,
  SYN,
  seqNumber,
  srcPort as srcPortOf,
  TCP_HEADER_LENGTH,
  TcpOptions,
  verifyChecksum,
  windowField,
  writeHeader,
  writeMssOption,
  writeSackPermittedOption,
  writeTimestampOption,
  writeWindowScaleOption,
} from "./wire.js";

/** Listen options understood by this engine (a superset of the signature's). */
export interface TcpListenOptions extends ListenOptions {
  /** Half-open connections before SYN cookies (default: the engine's synBacklog). */
  readonly synBacklog?: number;
  readonly congestionControl?: CongestionControlName;
}

/** Connect options understood by this engine (a superset of the signature's). */
export interface TcpConnectOptions extends ConnectOptions {
  readonly congestionControl?: CongestionControlName;
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
}

interface Listener {
  readonly port: number;
  readonly onFlow: (flow: Flow) => void;
  readonly backlog: number;
  readonly synBacklog: number;
  readonly noDelay: boolean;
  readonly cc: CongestionControlName;
  halfOpen: number;
  readonly queue: Connection[];
  /** When the last SYN cookie went out (cookies are only accepted for a while after). */
  lastCookieAt: number;
  open: boolean;
}

/** MSS values a SYN cookie can carry (3 bits). */
const COOKIE_MSS = [536, 1220, 1360, 1440, 1452, 1460, 4312, 8960];
/** SYN cookie time slot: 64 s; a cookie is valid in its slot and the next. */
const COOKIE_SLOT_NS = 64e9;
const COOKIE_ACCEPT_NS = 2 * COOKIE_SLOT_NS;

export interface TcpDevices {
  readonly lower: TcpLower;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log?: Logger;
}

export class TcpEngine implements Tcp, TcpUpper, ConnectionHost {
  readonly config: ResolvedTcpConfig;
  readonly stats: TcpStats;
  readonly lower: TcpLower;
  readonly pool: BufferPool;
  readonly timers: TimerQueue<Connection>;
  readonly log: Logger;
  readonly #clock: MonotonicClock;
  readonly #random: Random;

  /** Connections by four-tuple hash, chained through nextInBucket. */
  readonly #table = new Map<number, Connection>();
  /** The connection found last (only connections in the table). */
  #last: Connection | undefined = undefined;
  #connections = 0;
  #timeWait = 0;
  readonly #listeners = new Map<number, Listener>();

  readonly #isnHash: SipHash;
  readonly #cookieHash: SipHash;
  readonly #tsHash: SipHash;
  readonly #scratch = new Uint8Array(24);

  readonly #seg = new SegmentIn();
  readonly #opts = new TcpOptions();

  #flushList: Connection[] = [];
  #flushSpare: Connection[] = [];
  #flushQueued = false;
  readonly #flushBound = () => this.#flush();
  readonly #acceptReady: Listener[] = [];

  #challengeSecond = -1;
  #challengeCount = 0;
  #closed = false;

  constructor(devices: TcpDevices, config: TcpConfig = {}) {
    this.config = resolveConfig(config);
    this.lower = devices.lower;
    this.#clock = devices.clock;
    this.#random = devices.random;
    this.log = devices.log ?? silentLogger;
    this.stats = new TcpStats(() => this.#countEstablished());
    this.pool = new BufferPool(this.config.bufferPoolBytes);
    this.timers = new TimerQueue<Connection>(
      devices.time,
      () => this.#clock.now(),
      (conn, now) => this.#runTimer(conn, now),
      this.config.timerGranularityNs,
    );
    this.#isnHash = new SipHash(devices.random.bytes(16));
    this.#cookieHash = new SipHash(devices.random.bytes(16));
    this.#tsHash = new SipHash(devices.random.bytes(16));
  }

  /** Connections in the table (every state but LISTEN, TIME-WAIT included). */
  get connectionCount(): number {
    return this.#connections;
  }

  /** Connections in TIME-WAIT. */
  get timeWaitCount(): number {
    return this.#timeWait;
  }

  /** Every connection (diagnostics and tests). */
  *connections(): IterableIterator<Connection> {
    for (const head of this.#table.values()) {
      for (let c: Connection | undefined = head; c !== undefined; c = c.nextInBucket) yield c;
    }
  }

  #countEstablished(): number {
    let n = 0;
    for (const c of this.connections()) if (c.state === ESTABLISHED || c.state === CLOSE_WAIT) n++;
    return n;
  }

  // ---- ConnectionHost --------------------------------------------------------------------------

  now(): number {
    return this.#clock.now();
  }

  tsClock(): number {
    return Math.floor(this.#clock.now() / 1e6);
  }

  challengeAllowed(): boolean {
    const second = Math.floor(this.#clock.now() / 1e9);
    if (second !== this.#challengeSecond) {
      this.#challengeSecond = second;
      this.#challengeCount = 0;
    }
    return this.#challengeCount++ < this.config.challengeAckLimit;
  }

  queueFlush(conn: Connection): void {
    if (conn.flushQueued) return;
    conn.flushQueued = true;
    this.#flushList.push(conn);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushBound);
    }
  }

  accept(conn: Connection): boolean {
    const listener = conn.listener as Listener | undefined;
    if (listener === undefined) return true; // simultaneous open of an active connection
    if (!listener.open || listener.queue.length >= listener.backlog) return false;
    this.#releaseHalfOpen(conn);
    listener.queue.push(conn);
    this.stats.passiveOpens++;
    if (listener.queue.length === 1) {
      this.#acceptReady.push(listener);
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.#flushBound);
      }
    }
    return true;
  }

  forget(conn: Connection): void {
    this.#releaseHalfOpen(conn);
    if (conn.timeWaitCounted) {
      conn.timeWaitCounted = false;
      this.#timeWait--;
      this.stats.timeWait--;
    }
    this.timers.remove(conn);
    this.#remove(conn);
  }

  enterTimeWait(conn: Connection): boolean {
    if (this.#timeWait >= this.config.maxTimeWait) {
      this.stats.timeWaitOverflow++;
      return false;
    }
    conn.timeWaitCounted = true;
    this.#timeWait++;
    this.stats.timeWait++;
    return true;
  }

  #releaseHalfOpen(conn: Connection): void {
    if (!conn.halfOpenCounted) return;
    conn.halfOpenCounted = false;
    (conn.listener as Listener).halfOpen--;
    this.stats.halfOpen--;
  }

  // ---- connection table ------------------------------------------------------------------------

  /** A 30-bit hash of the four-tuple (a small integer keeps Map lookups on the fast path). */
  static #key(localPort: number, remoteAddr: number, remotePort: number): number {
    let h = remoteAddr ^ Math.imul(remotePort, 0x9e3779b1) ^ Math.imul(localPort, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    return (h ^ (h >>> 13)) & 0x3fffffff;
  }

  #lookup(localAddr: number, localPort: number, remoteAddr: number, remotePort: number) {
    // A bulk transfer's segments keep arriving for the same connection.
    const last = this.#last;
    if (
      last !== undefined &&
      last.localPort === localPort &&
      last.remotePort === remotePort &&
      last.remoteAddr === remoteAddr &&
      last.localAddr === localAddr
    )
      return last;
    let c = this.#table.get(TcpEngine.#key(localPort, remoteAddr, remotePort));
    while (c !== undefined) {
      if (
        c.localPort === localPort &&
        c.remotePort === remotePort &&
        c.remoteAddr === remoteAddr &&
        c.localAddr === localAddr
      ) {
        this.#last = c;
        return c;
      }
      c = c.nextInBucket;
    }
    return undefined;
  }

  #insert(conn: Connection): void {
    const key = TcpEngine.#key(conn.localPort, conn.remoteAddr, conn.remotePort);
    conn.nextInBucket = this.#table.get(key);
    this.#table.set(key, conn);
    this.#connections++;
  }

  #remove(conn: Connection): void {
    if (this.#last === conn) this.#last = undefined;
    const key = TcpEngine.#key(conn.localPort, conn.remoteAddr, conn.remotePort);
    let c = this.#table.get(key);
    let prev: Connection | undefined;
    while (c !== undefined && c !== conn) {
      prev = c;
      c = c.nextInBucket;
    }
    if (c === undefined) return;
    if (prev === undefined) {
      if (conn.nextInBucket === undefined) this.#table.delete(key);
      else this.#table.set(key, conn.nextInBucket);
    } else prev.nextInBucket = conn.nextInBucket;
    conn.nextInBucket = undefined;
    this.#connections--;
  }

  // ---- secrets: ISN (RFC 6528), timestamp offsets, SYN cookies --------------------------------

  #tuple(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): void {
    const b = this.#scratch;
    b[0] = localAddr >>> 24;
    b[1] = localAddr >>> 16;
    b[2] = localAddr >>> 8;
    b[3] = localAddr;
    b[4] = remoteAddr >>> 24;
    b[5] = remoteAddr >>> 16;
    b[6] = remoteAddr >>> 8;
    b[7] = remoteAddr;
    b[8] = localPort >>> 8;
    b[9] = localPort;
    b[10] = remotePort >>> 8;
    b[11] = remotePort;
  }

  /** RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock. */
  isn(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
    this.#tuple(localAddr, localPort, remoteAddr, remotePort);
    const f = this.#isnHash.hash(this.#scratch, 12);
    const m = Math.floor(this.#clock.now() / 4000);
    return (m + f) >>> 0;
  }

  #tsOffset(localAddr: number, localPort: number, remoteAddr: number, remotePort: number) {
    this.#tuple(localAddr, localPort, remoteAddr, remotePort);
    return this.#tsHash.hash(this.#scratch, 12);
  }

  #cookieMac(seg: SegmentIn, peerIsn: number, slot: number): number {
    this.#tuple(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    const b = this.#scratch;
    b[12] = peerIsn >>> 24;
    b[13] = peerIsn >>> 16;
    b[14] = peerIsn >>> 8;
    b[15] = peerIsn;
    b[16] = slot >>> 24;
    b[17] = slot >>> 16;
    b[18] = slot >>> 8;
    b[19] = slot;
    return this.#cookieHash.hash(b, 20) & 0xffffff;
  }

  // ---- input -----------------------------------------------------------------------------------

  receive(
    src: number,
    dst: number,
    segment: Uint8Array,
    offset = 0,
    length = segment.length - offset,
  ): void {
    try {
      this.#receive(src, dst, segment, offset, length);
    } catch (error) {
      this.stats.internalErrors++;
      this.stats.rxDropped++;
      this.log.error("tcp: internal error while receiving a segment", { error });
    }
  }

  #receive(src: number, dst: number, b: Uint8Array, o: number, length: number): void {
    const stats = this.stats;
    stats.rxSegments++;
    if (this.#closed) {
      stats.rxDropped++;
      return;
    }
    const h = checkHeader(b, o, length);
    if (h < 0) {
      stats.rxDropped++;
      stats.rxMalformed++;
      return;
    }
    if (!verifyChecksum(b, o, length, src, dst)) {
      stats.rxDropped++;
      stats.rxChecksumErrors++;
      return;
    }
    const opts = this.#opts;
    const f = flagsOf(b, o);
    const sport = srcPortOf(b, o);
    const dport = dstPortOf(b, o);
    if (
      !parseOptions(b, o + TCP_HEADER_LENGTH, o + h, opts) ||
      (f & SYN && f & (RST | FIN)) ||
      sport === 0 ||
      dport === 0
    ) {
      stats.rxDropped++;
      stats.rxMalformed++;
      return;
    }
    const seg = this.#seg;
    seg.buf = b;
    seg.dataOffset = o + h;
    seg.dataLength = length - h;
    seg.seq = seqNumber(b, o);
    seg.ack = ackNumber(b, o);
    seg.flags = f;
    seg.window = windowField(b, o);
    seg.src = src;
    seg.dst = dst;
    seg.srcPort = sport;
    seg.dstPort = dport;
    const now = this.#clock.now();

    const conn = this.#lookup(dst, dport, src, sport);
    if (conn !== undefined) {
      if (!conn.input(seg, opts, now)) return;
      // A SYN reusing a TIME-WAIT four-tuple (RFC 6191): the old incarnation goes.
      conn.expire();
    }
    const listener = this.#listeners.get(dport);
    if (listener?.open) {
      this.#listenInput(listener, seg, opts, now);
      return;
    }
    stats.rxDropped++;
    stats.rxNoConnection++;
    if (!(f & RST)) this.#resetFor(seg);
  }

  #listenInput(listener: Listener, seg: SegmentIn, opts: TcpOptions, now: number): void {
    const stats = this.stats;
    const f = seg.flags;
    if (f & RST) {
      stats.rxDropped++;
      return;
    }
    if (f & ACK) {
      if (
        !(f & SYN) &&
        now - listener.lastCookieAt < COOKIE_ACCEPT_NS &&
        listener.lastCookieAt >= 0
      ) {
        if (this.#acceptCookie(listener, seg, opts, now)) return;
      }
      stats.rxDropped++;
      this.#resetFor(seg);
      return;
    }
    if (!(f & SYN)) {
      stats.rxDropped++;
      return;
    }
    if (listener.halfOpen >= listener.synBacklog) {
      if (this.config.synCookies) this.#sendCookie(listener, seg, opts, now);
      else {
        stats.synDropped++;
        stats.rxDropped++;
      }
      return;
    }
    const iss = this.isn(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    const conn = this.#newConnection(
      seg.dst,
      seg.dstPort,
      seg.src,
      seg.srcPort,
      iss,
      listener.cc,
      listener.noDelay,
      this.config.sendBufferSize,
      this.config.receiveBufferSize,
    );
    conn.listener = listener;
    conn.halfOpenCounted = true;
    listener.halfOpen++;
    stats.halfOpen++;
    this.#insert(conn);
    conn.openPassive(now, seg.seq, seg.window, opts, false);
  }

  #newConnection(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    iss: number,
    cc: CongestionControlName,
    noDelay: boolean,
    sendBufferSize: number,
    receiveBufferSize: number,
  ): Connection {
    return new Connection(this, {
      localAddr,
      localPort,
      remoteAddr,
      remotePort,
      iss,
      tsOffset: this.#tsOffset(localAddr, localPort, remoteAddr, remotePort),
      cc: createCongestionControl(cc),
      noDelay,
      sendBufferSize,
      receiveBufferSize,
    });
  }

  /** Answers a SYN statelessly with a SYN cookie as ISN (RFC 4987 §3.6). */
  #sendCookie(listener: Listener, seg: SegmentIn, opts: TcpOptions, now: number): void {
    const c = this.config;
    const stats = this.stats;
    stats.synCookiesSent++;
    listener.lastCookieAt = now;
    const ourMss = Math.max(
      64,
      Math.min(c.mss, this.lower.maxSegmentSize(seg.src) - TCP_HEADER_LENGTH, 65535),
    );
    const peerMss = opts.mss >= 0 ? opts.mss : 536;
    let mssIndex = 0;
    for (let i = COOKIE_MSS.length - 1; i > 0; i--) {
      if (COOKIE_MSS[i]! <= Math.min(peerMss, ourMss)) {
        mssIndex = i;
        break;
      }
    }
    const slot = Math.floor(now / COOKIE_SLOT_NS) >>> 0;
    const peerIsn = seg.seq;
    const mac = this.#cookieMac(seg, peerIsn, slot);
    const cookie = (((slot & 31) << 27) | (mssIndex << 24) | mac) >>> 0;

    // Options survive only through the timestamp we echo back (as Linux does).
    const ts = c.timestamps && opts.timestamp;
    let offer = 0;
    if (ts) {
      offer |= OFFER_TIMESTAMPS;
      if (c.windowScaling && opts.wscale >= 0) offer |= OFFER_WSCALE;
      if (c.sack && opts.sackPermitted) offer |= OFFER_SACK;
    }
    let shift = 0;
    if (offer & OFFER_WSCALE)
      while (shift < MAX_WINDOW_SHIFT && c.receiveBufferSize >> shift > 65535) shift++;
    const optLen =
      4 + (offer & OFFER_WSCALE ? 4 : 0) + (offer & OFFER_SACK ? 4 : 0) + (ts ? 12 : 0);
    const hdr = TCP_HEADER_LENGTH + optLen;
    const { buffer, offset } = this.lower.allocate(hdr);
    const window = Math.min(c.receiveBufferSize - (1 << shift), 65535);
    writeHeader(
      buffer,
      offset,
      seg.dstPort,
      seg.srcPort,
      cookie,
      seqAdd(seg.seq, 1),
      SYN | ACK,
      window,
      hdr,
    );
    let p = writeMssOption(buffer, offset + TCP_HEADER_LENGTH, ourMss);
    if (offer & OFFER_WSCALE) p = writeWindowScaleOption(buffer, p, shift);
    if (offer & OFFER_SACK) p = writeSackPermittedOption(buffer, p);
    if (ts) {
      const tsOffset = this.#tsOffset(seg.dst, seg.dstPort, seg.src, seg.srcPort);
      const encoded = (offer & OFFER_WSCALE ? opts.wscale : 0xf) | (offer & OFFER_SACK ? 0x10 : 0);
      // Keep TSval at or below the connection's timestamp clock so later values never go back.
      const tsNow = (this.tsClock() + tsOffset - 64) >>> 0;
      const tsVal = ((tsNow & ~0x3f) | encoded) >>> 0;
      p = writeTimestampOption(buffer, p, tsVal, opts.tsVal);
    }
    fillChecksum(buffer, offset, hdr, seg.dst, seg.src);
    if (!this.lower.send(seg.dst, seg.src, buffer, offset, hdr)) stats.txDropped++;
    stats.txSegments++;
  }

  /** The ACK of a cookie SYN-ACK: validate and create the connection ESTABLISHED. */
  #acceptCookie(listener: Listener, seg: SegmentIn, opts: TcpOptions, now: number): boolean {
    const stats = this.stats;
    const cookie = seqAdd(seg.ack, -1);
    const peerIsn = seqAdd(seg.seq, -1);
    const slotBits = cookie >>> 27;
    const mssIndex = (cookie >>> 24) & 7;
    const current = Math.floor(now / COOKIE_SLOT_NS);
    let valid = false;
    for (let age = 0; age < 2 && !valid; age++) {
      const slot = (current - age) >>> 0;
      if ((slot & 31) !== slotBits) continue;
      valid = this.#cookieMac(seg, peerIsn, slot) === (cookie & 0xffffff);
    }
    if (!valid) {
      stats.synCookiesRejected++;
      return false;
    }
    if (listener.queue.length >= listener.backlog) {
      stats.acceptQueueDrops++;
      stats.rxDropped++;
      return true; // valid but no room: drop silently, the client will retransmit
    }
    stats.synCookiesAccepted++;
    const encoded = opts.timestamp ? opts.tsEcr & 0x3f : 0x0f;
    const wscale = opts.timestamp && (encoded & 0xf) !== 0xf ? encoded & 0xf : -1;
    const synOpts = {
      mss: COOKIE_MSS[mssIndex]!,
      wscale,
      sackPermitted: opts.timestamp && (encoded & 0x10) !== 0,
      timestamp: opts.timestamp,
      tsVal: opts.tsVal,
    };
    const conn = this.#newConnection(
      seg.dst,
      seg.dstPort,
      seg.src,
      seg.srcPort,
      cookie,
      listener.cc,
      listener.noDelay,
      this.config.sendBufferSize,
      this.config.receiveBufferSize,
    );
    conn.listener = listener;
    this.#insert(conn);
    conn.openPassive(now, peerIsn, 0, synOpts, true);
    this.accept(conn);
    conn.input(seg, opts, now);
    return true;
  }

  /** RFC 9293 §3.10.7.1: the RST for a segment that matches nothing. */
  #resetFor(seg: SegmentIn): void {
    const { buffer, offset } = this.lower.allocate(TCP_HEADER_LENGTH);
    let seq = 0;
    let ack = 0;
    let f = RST;
    if (seg.flags & ACK) seq = seg.ack;
    else {
      f |= ACK;
      let len = seg.dataLength;
      if (seg.flags & SYN) len++;
      if (seg.flags & FIN) len++;
      ack = seqAdd(seg.seq, len);
    }
    writeHeader(buffer, offset, seg.dstPort, seg.srcPort, seq, ack, f, 0, TCP_HEADER_LENGTH);
    fillChecksum(buffer, offset, TCP_HEADER_LENGTH, seg.dst, seg.src);
    if (!this.lower.send(seg.dst, seg.src, buffer, offset, TCP_HEADER_LENGTH))
      this.stats.txDropped++;
    this.stats.txSegments++;
    this.stats.resetsSent++;
  }

  icmpError(
    src: number,
    dst: number,
    quoted: Uint8Array,
    kind: "unreachable" | "port-unreachable" | "frag-needed",
    mtu?: number,
  ): void {
    try {
      const stats = this.stats;
      stats.icmpErrors++;
      if (quoted.length < 8) {
        stats.icmpIgnored++;
        return;
      }
      const conn = this.#lookup(src, srcPortOf(quoted, 0), dst, dstPortOf(quoted, 0));
      const now = this.#clock.now();
      if (conn === undefined || !conn.icmpError(seqNumber(quoted, 0), kind, mtu, now))
        stats.icmpIgnored++;
    } catch (error) {
      this.stats.internalErrors++;
      this.log.error("tcp: internal error handling ICMP", { error });
    }
  }

  // ---- timers and the flush microtask ------------------------------------------------------------

  #runTimer(conn: Connection, now: number): void {
    try {
      conn.onTimer(now);
    } catch (error) {
      this.stats.internalErrors++;
      this.log.error("tcp: internal error in a timer", { error });
      try {
        conn.failWith(new ConnectionClosedError("internal error"), now, true);
      } catch {
        // already reported
      }
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    const now = this.#clock.now();
    const ready = this.#acceptReady;
    while (ready.length > 0) {
      const listener = ready.shift()!;
      const queue = listener.queue;
      while (queue.length > 0) {
        const conn = queue.shift()!;
        if (conn.state === 0 && conn.readable === 0) continue; // reset before the application saw it
        if (!listener.open) {
          conn.failWith(new ConnectionClosedError("listener closed"), now, true);
          continue;
        }
        const flow = new TcpFlow(conn, this);
        try {
          listener.onFlow(flow);
        } catch (error) {
          this.log.error("tcp: onFlow threw", { error });
        }
        flow.deliver();
      }
    }
    // Connections queued while this runs are flushed in the next microtask.
    const list = this.#flushList;
    this.#flushList = this.#flushSpare;
    this.#flushSpare = list;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      try {
        conn.flush(now);
      } catch (error) {
        this.stats.internalErrors++;
        this.log.error("tcp: internal error in flush", { error });
      }
    }
    list.length = 0;
  }

  // ---- the Tcp signature -------------------------------------------------------------------------

  listen(port: number, onFlow: (flow: Flow) => void, options: TcpListenOptions = {}): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new RangeError(`invalid TCP port ${port}`);
    if (this.#listeners.has(port)) throw new AddressInUseError(`TCP port ${port}`);
    this.#listeners.set(port, {
      port,
      onFlow,
      backlog: Math.max(1, options.backlog ?? 128),
      synBacklog: Math.max(1, options.synBacklog ?? this.config.synBacklog),
      noDelay: options.noDelay ?? false,
      cc: options.congestionControl ?? this.config.congestionControl,
      halfOpen: 0,
      queue: [],
      lastCookieAt: -1,
      open: true,
    });
  }

  unlisten(port: number): void {
    const listener = this.#listeners.get(port);
    if (listener === undefined) return;
    listener.open = false;
    this.#listeners.delete(port);
    // Half-open connections of this listener go away (RFC 9293: return to LISTEN, which is gone).
    const now = this.#clock.now();
    for (const c of [...this.connections()]) {
      if (c.listener === listener && c.state === SYN_RECEIVED)
        c.failWith(new ConnectionClosedError(), now, true);
    }
  }

  connect(address: string, port: number, options: TcpConnectOptions = {}): Promise<Flow> {
    const remote = parseIpv4(address);
    if (remote === undefined)
      return Promise.reject(new NetworkUnreachableError(address, "not an IPv4 address"));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      return Promise.reject(new RangeError(`invalid TCP port ${port}`));
    if (this.#closed) return Promise.reject(new ConnectionClosedError("stack is closed"));
    if (options.signal?.aborted)
      return Promise.reject(new AbortedError("connect aborted", { cause: options.signal.reason }));
    const local = this.lower.sourceFor(remote);
    if (local === undefined) return Promise.reject(new NetworkUnreachableError(address));
    let localPort = options.localPort ?? -1;
    if (localPort >= 0) {
      if (this.#lookup(local, localPort, remote, port) !== undefined)
        return Promise.reject(new AddressInUseError(`TCP ${formatIpv4(local)}:${localPort}`));
    } else {
      localPort = this.#ephemeralPort(local, remote, port);
      if (localPort < 0) return Promise.reject(new AddressInUseError("every ephemeral TCP port"));
    }
    const now = this.#clock.now();
    const conn = this.#newConnection(
      local,
      localPort,
      remote,
      port,
      this.isn(local, localPort, remote, port),
      options.congestionControl ?? this.config.congestionControl,
      options.noDelay ?? false,
      options.sendBufferSize ?? this.config.sendBufferSize,
      options.receiveBufferSize ?? this.config.receiveBufferSize,
    );
    this.#insert(conn);
    this.stats.activeOpens++;
    return new Promise<Flow>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = () => {
        conn.failWith(
          new AbortedError("connect aborted", { cause: signal?.reason }),
          this.now(),
          true,
        );
      };
      conn.onEstablished = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(new TcpFlow(conn, this));
      };
      conn.onFailed = (error: AtollError) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      conn.openActive(now, options.timeoutNs ?? 30e9);
    });
  }

  /** RFC 6056 §3.3.1: a random start in the range, then the first free port. */
  #ephemeralPort(local: number, remote: number, remotePort: number): number {
    const min = this.config.ephemeralPortMin;
    const max = this.config.ephemeralPortMax;
    const count = max - min + 1;
    let port = min + this.#random.int(count);
    for (let i = 0; i < count; i++) {
      if (!this.#listeners.has(port) && this.#lookup(local, port, remote, remotePort) === undefined)
        return port;
      port = port === max ? min : port + 1;
    }
    return -1;
  }

  /** Resets every connection, forgets every listener and stops the timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const now = this.#clock.now();
    for (const l of this.#listeners.values()) l.open = false;
    this.#listeners.clear();
    for (const c of [...this.connections()]) {
      c.failWith(new ConnectionClosedError("stack closed"), now, c.state !== TIME_WAIT);
    }
    this.timers.clear();
  }
}
