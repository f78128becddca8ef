// One TCP connection: the transmission control block and its state machine
// (RFC 9293 §3.10), with RFC 5961 RST/SYN/ACK checks, RFC 7323 window
// scaling, timestamps and PAWS, RFC 2018 SACK with RFC 6675 loss recovery,
// NewReno (RFC 6582) without SACK, RFC 6298 retransmission timing, delayed
// ACKs, Nagle, zero-window probing and keepalive. Segments are built in place
// in buffers from the lower layer; received bytes go straight into a ring.

import { type AtollError, formatIpv4, type Logger } from "@atoll/core";
import {
  ConnectionClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  ConnectionTimeoutError,
  NetworkUnreachableError,
} from "../errors.js";
import type { ResolvedTcpConfig } from "./config.js";
import type { CongestionControl } from "./congestion.js";
import type { TcpLower } from "./lower.js";
import { SeqRanges } from "./ranges.js";
import { type BufferPool, ByteRing } from "./ring.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from "./seq.js";
import type { TcpStats } from "./stats.js";
import type { TimerQueue } from "./timers.js";
import {
  ACK,
  FIN,
  fillChecksum,
  MAX_WINDOW_SHIFT,
  PSH,
  RST,
  SYN,
  TCP_HEADER_LENGTH,
  type TcpOptions,
  writeHeader,
  writeMssOption,
  writeSackOption,
  writeSackPermittedOption,
  writeTimestampOption,
  writeWindowScaleOption,
} from "./wire.js";

// ---- states ----------------------------------------------------------------------------------

export const CLOSED = 0;
export const LISTEN = 1;
export const SYN_SENT = 2;
export const SYN_RECEIVED = 3;
export const ESTABLISHED = 4;
export const FIN_WAIT_1 = 5;
export const FIN_WAIT_2 = 6;
export const CLOSE_WAIT = 7;
export const CLOSING = 8;
export const LAST_ACK = 9;
export const TIME_WAIT = 10;

export const STATE_NAMES = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
] as const;
export type TcpStateName = (typeof STATE_NAMES)[number];

/** Loss recovery modes of the sender. */
const RECOVERY_NONE = 0;
/** RFC 6675 SACK-based fast recovery. */
const RECOVERY_SACK = 1;
/** RFC 6582 NewReno fast recovery (peer without SACK). */
const RECOVERY_NEWRENO = 2;
/** After a retransmission timeout: resend what is not SACKed, in slow start. */
const RECOVERY_LOSS = 3;

const DUP_THRESH = 3;
/**
 * In-order bytes after which an ACK goes out at once, even in the middle of a
 * receive batch (one ACK per 64 KiB at most, like a GRO super-segment on Linux).
 */
const ACK_COALESCE_BYTES = 65536;
const NEVER = Number.POSITIVE_INFINITY;
/** RFC 7323 §5.5: TS.Recent older than 24 days is invalid. */
const PAWS_IDLE_NS = 24 * 24 * 3600 * 1e9;
/** Default MSS when the peer sends none (RFC 9293 §3.7.1). */
const DEFAULT_MSS = 536;

/** Options bits negotiated in the handshake. */
export const OFFER_WSCALE = 1;
export const OFFER_SACK = 2;
export const OFFER_TIMESTAMPS = 4;

/** A received segment, described by the engine in one reused record. */
export class SegmentIn {
  buf: Uint8Array = new Uint8Array(0);
  /** Offset and length of the payload in buf. */
  dataOffset = 0;
  dataLength = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  src = 0;
  dst = 0;
  srcPort = 0;
  dstPort = 0;
}

/** What the connection needs from its engine. */
export interface ConnectionHost {
  readonly config: ResolvedTcpConfig;
  readonly stats: TcpStats;
  readonly lower: TcpLower;
  readonly pool: BufferPool;
  readonly timers: TimerQueue<Connection>;
  readonly log: Logger;
  now(): number;
  /** The timestamp clock (ms ticks), without per-connection offset. */
  tsClock(): number;
  /** RFC 5961 §7 rate limit: may a challenge ACK go out now? */
  challengeAllowed(): boolean;
  /** Runs conn.flush() in this turn's microtask (application notifications, output after writes). */
  queueFlush(conn: Connection): void;
  /** A passive connection completed its handshake; false when the accept queue is full. */
  accept(conn: Connection): boolean;
  /** The connection reached CLOSED: forget it. */
  forget(conn: Connection): void;
  /** The connection enters TIME-WAIT; false when too many are (close at once instead). */
  enterTimeWait(conn: Connection): boolean;
}

/** What the application side (the Flow) hears from its connection. */
export interface ConnectionListener {
  /** Data, end of stream or an error may be readable; called from the flush microtask. */
  deliver(): void;
  /** Send-buffer space was freed: copy pending writes in. Called synchronously. */
  pumpWrites(): void;
}

export interface ConnectionParams {
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  readonly iss: number;
  readonly tsOffset: number;
  readonly cc: CongestionControl;
  readonly noDelay: boolean;
  readonly sendBufferSize: number;
  readonly receiveBufferSize: number;
}

export class Connection {
  // identity
  readonly host: ConnectionHost;
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  /** Next connection in the same lookup bucket. */
  nextInBucket: Connection | undefined = undefined;
  // timer queue entry
  wakeAt = NEVER;
  heapIndex = -1;

  state = CLOSED;
  /** Set for connections created by a listener. */
  listener: unknown = undefined;
  /** The handshake completed on a SYN cookie (no SYN-RECEIVED state). */
  fromCookie = false;
  /** Engine bookkeeping: counted as half-open for its listener / counted in TIME-WAIT. */
  halfOpenCounted = false;
  timeWaitCounted = false;

  // negotiated options
  synOptions = 0;
  sackOk = false;
  tsOk = false;
  sndShift = 0;
  rcvShift = 0;
  /** Largest TCP segment (header + data) we may send, and SMSS for congestion control. */
  maxSeg = DEFAULT_MSS + TCP_HEADER_LENGTH;
  smss = DEFAULT_MSS;
  /** The MSS we announce. */
  ourMss: number;
  /** Largest payload seen from the peer (delayed-ACK accounting). */
  rcvMss = DEFAULT_MSS;

  // send sequence space
  iss: number;
  sndUna: number;
  sndNxt: number;
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Sequence number of the first byte in the send ring. */
  sndBase: number;

  // receive sequence space
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised. */
  rcvAdv = 0;

  // timestamps
  readonly tsOffset: number;
  tsRecent = 0;
  tsRecentAt = -1;
  lastAckSent = 0;

  // RTT and RTO (RFC 6298)
  srtt = 0;
  rttvar = 0;
  rto: number;
  rttTimed = false;
  rttSeq = 0;
  rttStart = 0;
  /** Consecutive expirations of the retransmission timer. */
  retries = 0;

  // congestion control and recovery
  cwnd: number;
  ssthresh = 0x7fffffff;
  readonly cc: CongestionControl;
  recovery = RECOVERY_NONE;
  recoverSeq: number;
  highRxt: number;
  dupAcks = 0;
  #forceRxt = false;
  scoreboard: SeqRanges | undefined = undefined;
  lastSendAt = 0;

  // buffers
  readonly sendRing: ByteRing;
  readonly recvRing: ByteRing;
  ooo: SeqRanges | undefined = undefined;

  // closing
  /** The application shut down its side: FIN goes after the queued data. */
  finQueued = false;
  finSent = false;
  /** The peer's FIN arrived in order (end of stream). */
  peerFin = false;
  /** Sequence number of a peer FIN that arrived out of order, or -1. */
  peerFinSeq = -1;
  /** The application released the connection (close()). */
  appClosed = false;

  // application options
  noDelay: boolean;
  keepAlive = false;
  keepIdle: number;
  keepProbes = 0;
  lastRecvAt = 0;

  // timers (absolute ns; NEVER when off)
  rtoAt = NEVER;
  persistAt = NEVER;
  persistBackoff = 0;
  persistProbes = 0;
  delackAt = NEVER;
  keepaliveAt = NEVER;
  /** TIME-WAIT end, FIN-WAIT-2 timeout or connect deadline, by state. */
  stateAt = NEVER;

  // ACK state
  unackedBytes = 0;
  ackNow = false;
  /** An ACK is owed at the end of the current receive batch (sent from flush). */
  ackBatched = false;

  // application hooks
  flow: ConnectionListener | undefined = undefined;
  /** Why the connection ended abnormally (read and write reject with it). */
  error: AtollError | undefined = undefined;
  /** The last ICMP error seen (RFC 5927 soft error), reported if the connection times out. */
  softError: "unreachable" | "port-unreachable" | undefined = undefined;
  /** Active open callbacks. */
  onEstablished: (() => void) | undefined = undefined;
  onFailed: ((error: AtollError) => void) | undefined = undefined;
  flushQueued = false;
  needsOutput = false;

  constructor(host: ConnectionHost, p: ConnectionParams) {
    this.host = host;
    this.localAddr = p.localAddr;
    this.localPort = p.localPort;
    this.remoteAddr = p.remoteAddr;
    this.remotePort = p.remotePort;
    this.iss = p.iss;
    this.sndUna = p.iss;
    this.sndNxt = p.iss;
    this.sndBase = seqAdd(p.iss, 1);
    this.recoverSeq = p.iss;
    this.highRxt = p.iss;
    this.tsOffset = p.tsOffset;
    this.cc = p.cc;
    this.noDelay = p.noDelay;
    const c = host.config;
    this.rto = c.initialRtoNs;
    this.keepIdle = c.keepAliveIdleNs;
    this.sendRing = new ByteRing(p.sendBufferSize, host.pool);
    this.recvRing = new ByteRing(p.receiveBufferSize, host.pool);
    const pathMax = host.lower.maxSegmentSize(p.remoteAddr) - TCP_HEADER_LENGTH;
    this.ourMss = Math.max(64, Math.min(c.mss, pathMax, 65535));
    this.cwnd = 0;
    if (c.windowScaling) {
      let shift = 0;
      while (shift < MAX_WINDOW_SHIFT && p.receiveBufferSize >> shift > 65535) shift++;
      this.rcvShift = shift;
    }
  }

  get stateName(): TcpStateName {
    return STATE_NAMES[this.state]!;
  }

  /** Bytes queued by the application and not yet acknowledged. */
  get sendQueued(): number {
    return this.sendRing.length;
  }

  /** Received bytes the application has not read. */
  get readable(): number {
    return this.recvRing.length;
  }

  #seqEnd(): number {
    return seqAdd(this.sndBase, this.sendRing.length);
  }

  // ---- opening -------------------------------------------------------------------------------

  /** Active open: sends the SYN. */
  openActive(now: number, connectTimeoutNs: number): void {
    const c = this.host.config;
    this.synOptions =
      (c.windowScaling ? OFFER_WSCALE : 0) |
      (c.sack ? OFFER_SACK : 0) |
      (c.timestamps ? OFFER_TIMESTAMPS : 0);
    if (!c.windowScaling) this.rcvShift = 0;
    this.state = SYN_SENT;
    this.#setMss(DEFAULT_MSS);
    this.stateAt = now + connectTimeoutNs;
    this.#sendSyn(now);
    this.#schedule(this.stateAt);
  }

  /**
   * Passive open from a SYN (or, with `cookie`, straight to ESTABLISHED from
   * the ACK that returned a valid SYN cookie). `opts` are the SYN's options.
   */
  openPassive(
    now: number,
    irs: number,
    window: number,
    opts: {
      mss: number;
      wscale: number;
      sackPermitted: boolean;
      timestamp: boolean;
      tsVal: number;
    },
    cookie: boolean,
  ): void {
    const c = this.host.config;
    this.irs = irs;
    this.rcvNxt = seqAdd(irs, 1);
    this.synOptions =
      (c.windowScaling && opts.wscale >= 0 ? OFFER_WSCALE : 0) |
      (c.sack && opts.sackPermitted ? OFFER_SACK : 0) |
      (c.timestamps && opts.timestamp ? OFFER_TIMESTAMPS : 0);
    this.#negotiate(opts);
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    this.#setMss(opts.mss >= 0 ? opts.mss : DEFAULT_MSS);
    this.sndWnd = window; // the window in a SYN is never scaled
    this.maxSndWnd = window;
    this.sndWl1 = irs;
    this.sndWl2 = this.iss;
    this.lastRecvAt = now;
    if (cookie) {
      // The SYN-ACK went out statelessly; this is its ACK.
      this.fromCookie = true;
      this.sndUna = seqAdd(this.iss, 1);
      this.sndNxt = this.sndUna;
      this.highRxt = this.sndUna;
      this.rcvAdv = seqAdd(this.rcvNxt, Math.min(this.#receiveSpace(), 65535));
      this.#establish(now);
      return;
    }
    this.state = SYN_RECEIVED;
    this.#sendSyn(now);
  }

  #negotiate(peer: { wscale: number; sackPermitted: boolean; timestamp: boolean }): void {
    const offered = this.synOptions;
    if (offered & OFFER_WSCALE && peer.wscale >= 0) {
      const peerWscale = peer.wscale;
      this.sndShift = peerWscale;
    } else {
      this.sndShift = 0;
      this.rcvShift = 0;
      this.synOptions &= ~OFFER_WSCALE;
    }
    this.sackOk = (offered & OFFER_SACK) !== 0 && peer.sackPermitted;
    this.tsOk = (offered & OFFER_TIMESTAMPS) !== 0 && peer.timestamp;
    if (!this.sackOk) this.synOptions &= ~OFFER_SACK;
    if (!this.tsOk) this.synOptions &= ~OFFER_TIMESTAMPS;
  }

  #setMss(peerMss: number): void {
    const data = Math.max(64, Math.min(peerMss, this.ourMss));
    this.maxSeg = data + TCP_HEADER_LENGTH;
    this.smss = data - (this.tsOk ? 12 : 0);
    const c = this.host.config;
    const iw = c.initialWindow;
    this.cwnd =
      iw === 10
        ? Math.min(10 * this.smss, Math.max(2 * this.smss, 14600))
        : Math.max(1, iw) * this.smss;
    this.rcvMss = Math.min(this.rcvMss, this.ourMss);
  }

  #sendSyn(now: number): void {
    const flags = this.state === SYN_SENT ? SYN : SYN | ACK;
    this.#emit(this.iss, 0, flags, now);
    this.sndNxt = seqAdd(this.iss, 1);
    if (this.rtoAt === NEVER) {
      this.rtoAt = now + this.rto;
      this.#schedule(this.rtoAt);
    }
    if (this.retries === 0) {
      this.rttTimed = true;
      this.rttSeq = this.iss;
      this.rttStart = now;
    }
  }

  #establish(now: number): void {
    this.state = ESTABLISHED;
    const log = this.host.log;
    if (log.enabled("debug"))
      log.debug("connection established", {
        local: `${formatIpv4(this.localAddr)}:${this.localPort}`,
        remote: `${formatIpv4(this.remoteAddr)}:${this.remotePort}`,
        mss: this.smss,
        sack: this.sackOk,
        timestamps: this.tsOk,
        wscale: this.sndShift,
        cc: this.cc.name,
      });
    this.stateAt = NEVER;
    this.retries = 0;
    this.lastRecvAt = now;
    // RFC 6298 (5.7): a handshake that needed retransmissions resets the RTO for data.
    if (this.srtt === 0 && this.rto > this.host.config.initialRtoNs)
      this.rto = Math.max(this.host.config.initialRtoNs, 3e9);
    if (this.keepAlive) this.#armKeepalive(now);
    const done = this.onEstablished;
    this.onEstablished = undefined;
    this.onFailed = undefined;
    done?.();
  }

  // ---- timers --------------------------------------------------------------------------------

  #schedule(at: number): void {
    if (at < this.wakeAt) this.host.timers.schedule(this, at);
  }

  #nextDeadline(): number {
    let t = this.rtoAt;
    if (this.persistAt < t) t = this.persistAt;
    if (this.delackAt < t) t = this.delackAt;
    if (this.keepaliveAt < t) t = this.keepaliveAt;
    if (this.stateAt < t) t = this.stateAt;
    return t;
  }

  /** Called by the timer queue when the wake-up time has come. */
  onTimer(now: number): void {
    if (this.state === CLOSED) return;
    if (this.stateAt <= now) {
      this.stateAt = NEVER;
      this.#stateTimeout(now);
      if (this.state === CLOSED) return;
    }
    if (this.rtoAt <= now) {
      this.rtoAt = NEVER;
      this.#retransmitTimeout(now);
      if (this.state === CLOSED) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = NEVER;
      this.#persistTimeout(now);
      if (this.state === CLOSED) return;
    }
    if (this.delackAt <= now) {
      this.delackAt = NEVER;
      if (this.lastAckSent !== this.rcvNxt || this.unackedBytes > 0) {
        this.host.stats.delayedAcks++;
        this.#sendAck(now);
      }
    }
    if (this.keepaliveAt <= now) {
      this.keepaliveAt = NEVER;
      this.#keepaliveTimeout(now);
      if (this.state === CLOSED) return;
    }
    const next = this.#nextDeadline();
    if (next !== NEVER) this.host.timers.schedule(this, next);
  }

  #stateTimeout(now: number): void {
    switch (this.state) {
      case TIME_WAIT:
        this.#destroy(undefined);
        return;
      case FIN_WAIT_2:
        // Orphaned and the peer never closed (Linux tcp_fin_timeout).
        if (this.appClosed) this.#destroy(undefined);
        return;
      case SYN_SENT:
        this.#fail(this.#timeoutError("connect"), now, false);
        return;
      default:
        return;
    }
  }

  #timeoutError(what: string): AtollError {
    this.host.stats.timeouts++;
    if (this.state === SYN_SENT && this.softError === "unreachable") {
      // The handshake never got through and ICMP said why (as Linux reports EHOSTUNREACH).
      return new NetworkUnreachableError(
        formatIpv4(this.remoteAddr),
        "ICMP destination unreachable",
      );
    }
    if (this.softError !== undefined) {
      const detail =
        this.softError === "port-unreachable" ? "port unreachable" : "host or network unreachable";
      return new ConnectionTimeoutError(`${what} timed out (last ICMP error: ${detail})`);
    }
    return new ConnectionTimeoutError(`${what} timed out`);
  }

  #retransmitTimeout(now: number): void {
    const c = this.host.config;
    const stats = this.host.stats;
    const st = this.state;
    if (st === SYN_SENT || st === SYN_RECEIVED) {
      this.retries++;
      const limit = st === SYN_SENT ? c.maxSynRetransmissions : c.maxSynAckRetransmissions;
      if (this.retries > limit) {
        if (st === SYN_SENT || this.listener === undefined)
          this.#fail(this.#timeoutError("connect"), now, false);
        else this.#destroy(undefined); // a half-open connection just goes away
        return;
      }
      stats.retransmittedSegments++;
      this.rttTimed = false;
      this.rto = Math.min(this.rto * 2, c.maxRtoNs);
      this.#emit(this.iss, 0, st === SYN_SENT ? SYN : SYN | ACK, now);
      this.rtoAt = now + this.rto;
      return;
    }
    if (this.sndUna === this.sndNxt) return; // nothing outstanding
    this.retries++;
    if (this.retries > c.maxRetransmissions) {
      this.#fail(this.#timeoutError("retransmission"), now, true);
      return;
    }
    stats.retransmissionTimeouts++;
    const flight = seqDiff(this.sndNxt, this.sndUna);
    this.cc.onTimeout(this, flight, now, this.recovery !== RECOVERY_LOSS);
    this.recovery = RECOVERY_LOSS;
    this.recoverSeq = this.sndNxt;
    this.highRxt = this.sndUna;
    this.dupAcks = 0;
    // A second timeout for the same data may mean the receiver reneged on SACKed data (RFC 2018 §8).
    if (this.retries >= 2) this.scoreboard?.clear();
    this.rttTimed = false;
    this.rto = Math.min(this.rto * 2, c.maxRtoNs);
    this.#forceRxt = true;
    this.#output(now);
  }

  #persistTimeout(now: number): void {
    const st = this.state;
    if (
      !(
        st === ESTABLISHED ||
        st === CLOSE_WAIT ||
        st === FIN_WAIT_1 ||
        st === LAST_ACK ||
        st === CLOSING
      )
    )
      return;
    const unsent = seqDiff(this.#seqEnd(), this.sndNxt);
    if (unsent <= 0 || this.sndNxt !== this.sndUna) return;
    const c = this.host.config;
    const room = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    if (room > 0) {
      // The window is open but too small for sender SWS avoidance: send what fits (the override timer).
      this.#emitRange(this.sndNxt, Math.min(room, unsent, this.smss), false, now);
    } else {
      // Zero window: a zero-length probe with an old sequence number elicits an ACK with the window.
      this.host.stats.windowProbes++;
      this.persistProbes++;
      if (this.persistProbes > c.maxRetransmissions) {
        this.#fail(this.#timeoutError("zero-window probe"), now, true);
        return;
      }
      this.#emit(seqAdd(this.sndUna, -1), 0, ACK, now);
    }
    this.persistBackoff = Math.min(this.persistBackoff + 1, 16);
    this.#armPersist(now);
  }

  #armPersist(now: number): void {
    const c = this.host.config;
    const base = Math.max(this.rto, c.minRtoNs);
    this.persistAt = now + Math.min(base * 2 ** this.persistBackoff, c.maxRtoNs);
    this.#schedule(this.persistAt);
  }

  #armKeepalive(now: number): void {
    this.keepaliveAt = Math.max(this.lastRecvAt + this.keepIdle, now + 1);
    this.#schedule(this.keepaliveAt);
  }

  #keepaliveTimeout(now: number): void {
    const st = this.state;
    if (!this.keepAlive || !(st === ESTABLISHED || st === CLOSE_WAIT || st === FIN_WAIT_2)) return;
    const c = this.host.config;
    const idleUntil = this.lastRecvAt + this.keepIdle;
    if (this.keepProbes === 0 && idleUntil > now) {
      // Traffic arrived since the timer was set: wait for the rest of the idle time.
      this.keepaliveAt = idleUntil;
      return;
    }
    if (this.keepProbes > 0 && this.lastRecvAt + c.keepAliveIntervalNs > now) {
      // Answered: back to idle.
      this.keepProbes = 0;
      this.keepaliveAt = this.lastRecvAt + this.keepIdle;
      return;
    }
    if (this.keepProbes >= c.keepAliveProbes) {
      this.#fail(this.#timeoutError("keepalive"), now, true);
      return;
    }
    // Only probe an idle connection: with data in flight the retransmission timer watches the peer.
    if (this.sndUna === this.sndNxt) {
      this.keepProbes++;
      this.host.stats.keepAliveProbes++;
      this.#emit(seqAdd(this.sndUna, -1), 0, ACK, now);
    }
    this.keepaliveAt = now + c.keepAliveIntervalNs;
  }

  // ---- input ---------------------------------------------------------------------------------

  /**
   * Processes one segment for this connection. Returns true when the segment
   * should instead open a new connection (a SYN that may reuse a TIME-WAIT
   * four-tuple, RFC 6191): the engine then destroys this one and hands the
   * segment to the listener.
   */
  input(seg: SegmentIn, opts: TcpOptions, now: number): boolean {
    const stats = this.host.stats;
    const f = seg.flags;
    if (this.state === SYN_SENT) {
      this.#inputSynSent(seg, opts, now);
      this.#afterInput(now);
      return false;
    }
    if (this.state === CLOSED) return false;
    // Header prediction (Van Jacobson): the next in-order data segment of an
    // established connection, acknowledging nothing new, changing no window and
    // carrying no SACK, passes every check below; only the data path runs.
    if (
      this.state === ESTABLISHED &&
      (f & ~PSH) === ACK &&
      this.host.config.headerPrediction &&
      seg.seq === this.rcvNxt &&
      seg.ack === this.sndUna &&
      seg.dataLength > 0 &&
      opts.sackCount === 0 &&
      (this.tsOk ? opts.timestamp && seqGe(opts.tsVal, this.tsRecent) : !opts.timestamp) &&
      seg.window << this.sndShift === this.sndWnd &&
      this.#predictedData(seg, opts, now)
    )
      return false;
    this.lastRecvAt = now;

    const tsPresent = this.tsOk && opts.timestamp;
    if (this.tsOk && !opts.timestamp && !(f & RST)) {
      // RFC 7323 §3.2: once negotiated, segments without a timestamp are dropped.
      stats.rxDropped++;
      stats.rxMissingTimestamp++;
      return false;
    }

    if (this.state === TIME_WAIT && f & SYN && !(f & (ACK | RST))) {
      // RFC 6191: a new SYN may reuse the four-tuple when it is clearly newer.
      if (tsPresent ? seqGt(opts.tsVal, this.tsRecent) : seqGt(seg.seq, this.rcvNxt)) return true;
    }

    // PAWS (RFC 7323 §5.3).
    if (tsPresent && this.tsRecentAt >= 0 && !(f & RST) && seqLt(opts.tsVal, this.tsRecent)) {
      if (now - this.tsRecentAt > PAWS_IDLE_NS) {
        this.tsRecentAt = -1;
      } else {
        stats.rxDropped++;
        stats.rxPawsRejected++;
        this.#ackOutOfWindow(now);
        return false;
      }
    }

    // 1. Sequence number acceptability (RFC 9293 §3.10.7.4).
    const segLen = seg.dataLength + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);
    if (this.state === SYN_RECEIVED && f & SYN && seg.seq === this.irs) {
      if (f & ACK && seg.ack === this.sndNxt && !(f & RST)) {
        // Simultaneous open: the peer's SYN-ACK acknowledges our SYN (as Linux accepts it).
        return this.#simultaneousSynAck(seg, opts, now);
      }
      // The peer retransmitted its SYN: our SYN-ACK was lost.
      stats.retransmittedSegments++;
      this.#emit(this.iss, 0, SYN | ACK, now);
      return false;
    }
    if (!this.#acceptable(seg.seq, segLen)) {
      if (this.state === TIME_WAIT && f & FIN) {
        // The peer's FIN again (our last ACK was lost): ACK it and restart 2·MSL.
        this.stateAt = now + this.host.config.timeWaitNs;
        this.#schedule(this.stateAt);
      } else {
        stats.rxDropped++;
        stats.rxOutOfWindow++;
      }
      if (!(f & RST)) this.#ackOutOfWindow(now);
      return false;
    }

    // 2. RST (RFC 5961 §3): reset only when it is exactly RCV.NXT, else challenge.
    if (f & RST) {
      if (seg.seq !== this.rcvNxt) {
        this.#challengeAck(now);
        return false;
      }
      this.#inputReset(now);
      return false;
    }

    // 4. SYN in a synchronized state (RFC 5961 §4): challenge ACK, never reset.
    if (f & SYN) {
      if (this.state === SYN_RECEIVED && seg.seq === this.irs) {
        this.#emit(this.iss, 0, SYN | ACK, now);
        return false;
      }
      this.#challengeAck(now);
      return false;
    }

    // 5. ACK.
    if (!(f & ACK)) {
      stats.rxDropped++;
      return false;
    }
    if (this.state === SYN_RECEIVED) {
      if (!(seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt))) {
        this.#sendReset(seg.ack, 0, false);
        return false;
      }
      if (!this.host.accept(this)) {
        // Accept queue full: ignore the ACK, the client retransmits (our SYN-ACK timer runs).
        this.host.stats.acceptQueueDrops++;
        return false;
      }
      this.sndWnd = seg.window << this.sndShift;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.#establish(now);
    }
    if (!this.#inputAck(seg, opts, now)) return false;
    if (this.state === CLOSED) return false;

    // RFC 7323 §4.3: remember the timestamp of a segment that covers the left window edge.
    if (tsPresent && seqLe(seg.seq, this.lastAckSent) && seqGe(opts.tsVal, this.tsRecent)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    } else if (tsPresent && this.tsRecentAt < 0) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }

    // 7. Segment text, and 8. FIN.
    this.#inputData(seg, now);
    this.#afterInput(now);
    return false;
  }

  /**
   * The rest of header prediction: takes the segment when its data fits the
   * window and the buffer, nothing is out of order or closing, and we have
   * nothing in flight or unsent (so this ACK changes nothing on the send
   * side). The steps are those of the full path for such a segment. Returns
   * false, having changed nothing, when the full path must run.
   */
  #predictedData(seg: SegmentIn, opts: TcpOptions, now: number): boolean {
    const n = seg.dataLength;
    const ring = this.recvRing;
    const ooo = this.ooo;
    if (
      this.sndNxt !== this.sndUna ||
      this.sndNxt !== this.#seqEnd() ||
      this.finQueued ||
      this.appClosed ||
      this.peerFinSeq >= 0 ||
      (ooo !== undefined && ooo.count > 0) ||
      n > seqDiff(this.rcvAdv, this.rcvNxt) ||
      n > ring.capacity - ring.length
    )
      return false;
    this.host.stats.rxPredicted++;
    this.lastRecvAt = now;
    // RFC 7323 §4.3 (TS.Recent), as in input().
    if (this.tsOk && (seqLe(seg.seq, this.lastAckSent) || this.tsRecentAt < 0)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    // SND.WL1/WL2 (the window itself is unchanged), as in #inputAck.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack))) {
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
    }
    this.persistProbes = 0;
    this.keepProbes = 0;
    // The in-order branch of #inputData.
    if (n > this.rcvMss) this.rcvMss = Math.min(n, this.ourMss);
    ring.writeAt(ring.length, seg.buf, seg.dataOffset, n);
    ring.extend(n);
    this.rcvNxt = seqAdd(this.rcvNxt, n);
    this.#ackReceived(n, now);
    this.#readableChanged();
    if (this.ackNow) this.#afterInput(now);
    return true;
  }

  #simultaneousSynAck(seg: SegmentIn, opts: TcpOptions, now: number): boolean {
    this.sndWnd = seg.window; // a SYN's window is never scaled
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.tsOk && opts.timestamp) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    this.#establish(now);
    this.#inputAck(seg, opts, now);
    this.ackNow = true;
    this.#afterInput(now);
    return false;
  }

  #afterInput(now: number): void {
    if (this.state === CLOSED) return;
    this.#output(now);
    const next = this.#nextDeadline();
    if (next !== NEVER) this.#schedule(next);
  }

  #acceptable(seq: number, segLen: number): boolean {
    const wnd = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    const nxt = this.rcvNxt;
    if (segLen === 0) {
      if (wnd === 0) return seq === nxt;
      return seqLe(nxt, seq) && seqLt(seq, seqAdd(nxt, wnd));
    }
    if (wnd === 0) return false;
    const end = seqAdd(nxt, wnd);
    const last = seqAdd(seq, segLen - 1);
    return (seqLe(nxt, seq) && seqLt(seq, end)) || (seqLe(nxt, last) && seqLt(last, end));
  }

  #ackOutOfWindow(now: number): void {
    this.#sendAck(now);
  }

  #challengeAck(now: number): void {
    const stats = this.host.stats;
    if (!this.host.challengeAllowed()) {
      stats.challengeAcksSuppressed++;
      return;
    }
    stats.challengeAcks++;
    this.#sendAck(now);
  }

  #inputReset(now: number): void {
    const stats = this.host.stats;
    stats.resetsReceived++;
    switch (this.state) {
      case SYN_RECEIVED:
        if (this.listener !== undefined) {
          // Passive open: back to LISTEN, i.e. forget this half-open connection.
          this.#destroy(undefined);
          return;
        }
        this.#fail(
          new ConnectionResetError("connection refused during simultaneous open"),
          now,
          false,
        );
        return;
      case ESTABLISHED:
      case FIN_WAIT_1:
      case FIN_WAIT_2:
      case CLOSE_WAIT:
        this.#fail(new ConnectionResetError(), now, false);
        return;
      case TIME_WAIT:
        // RFC 1337: ignore RSTs in TIME-WAIT (TIME-WAIT assassination).
        return;
      default:
        // CLOSING, LAST-ACK: the application is done; just close.
        this.#destroy(undefined);
    }
  }

  #inputSynSent(seg: SegmentIn, opts: TcpOptions, now: number): void {
    const f = seg.flags;
    const stats = this.host.stats;
    let ackOk = false;
    if (f & ACK) {
      if (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt)) {
        stats.rxDropped++;
        if (!(f & RST)) this.#sendReset(seg.ack, 0, false);
        return;
      }
      ackOk = true;
    }
    if (f & RST) {
      // RFC 5961 §3 in SYN-SENT: only an RST that acknowledges our SYN is believed.
      if (ackOk) {
        stats.resetsReceived++;
        this.#fail(this.#refused(), now, false);
      } else stats.rxDropped++;
      return;
    }
    if (!(f & SYN)) {
      stats.rxDropped++;
      return;
    }
    this.lastRecvAt = now;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.#negotiate(opts);
    this.#setMss(opts.mss >= 0 ? opts.mss : DEFAULT_MSS);
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    this.rcvAdv = seqAdd(this.rcvNxt, Math.min(this.#receiveSpace(), 65535));
    this.sndWnd = seg.window; // unscaled in a SYN
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (ackOk) {
      // SYN-ACK: established.
      this.sndUna = seg.ack;
      this.highRxt = seg.ack;
      if (this.rttTimed && this.retries === 0) this.#rttSample(now - this.rttStart);
      else if (this.tsOk && opts.tsEcr !== 0) this.#rttSample(this.#tsRtt(opts.tsEcr, now));
      this.rttTimed = false;
      this.rtoAt = NEVER;
      this.#establish(now);
      this.ackNow = true;
      if (seg.dataLength > 0 || f & FIN) this.#inputData(seg, now);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5, figure 8): SYN-RECEIVED, SYN-ACK with our ISN.
    this.state = SYN_RECEIVED;
    this.retries = 0;
    this.#emit(this.iss, 0, SYN | ACK, now);
    this.rtoAt = now + this.rto;
  }

  #refused(): AtollError {
    return new ConnectionRefusedError(formatIpv4(this.remoteAddr), this.remotePort);
  }

  /** Processes the ACK field. Returns false when the segment must be dropped. */
  #inputAck(seg: SegmentIn, opts: TcpOptions, now: number): boolean {
    const ack = seg.ack;
    // RFC 5961 §5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.NXT] gets a challenge ACK.
    if (seqGt(ack, this.sndNxt) || seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.host.stats.rxDropped++;
      this.#challengeAck(now);
      return false;
    }
    const oldWnd = this.sndWnd;
    const wnd = seg.window << this.sndShift;
    let sackGrew = false;
    if (this.sackOk && opts.sackCount > 0) sackGrew = this.#inputSack(opts);

    if (seqGt(ack, this.sndUna)) {
      this.#ackNewData(ack, opts, now);
      if (this.state === CLOSED) return false;
    } else if (ack === this.sndUna && this.sndNxt !== this.sndUna) {
      const dup = this.sackOk
        ? sackGrew ||
          (opts.sackCount === 0 && seg.dataLength === 0 && wnd === oldWnd && !(seg.flags & FIN))
        : seg.dataLength === 0 && wnd === oldWnd && !(seg.flags & FIN);
      if (dup) this.#dupAck(now);
    }

    // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2).
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      const opened = wnd > this.sndWnd;
      this.sndWnd = wnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
      if (opened && wnd > 0) {
        this.persistBackoff = 0;
        if (this.persistAt !== NEVER) this.persistAt = NEVER;
      }
    }
    this.persistProbes = 0;
    this.keepProbes = 0;
    return true;
  }

  /** Adds valid SACK blocks to the scoreboard; true when it learned something new. */
  #inputSack(opts: TcpOptions): boolean {
    let grew = false;
    for (let k = 0; k < opts.sackCount; k++) {
      let left = opts.sackBlocks[2 * k]!;
      const right = opts.sackBlocks[2 * k + 1]!;
      // Ignore D-SACKs and blocks outside what we sent (RFC 2018, RFC 2883).
      if (!seqLt(left, right) || seqGt(right, this.sndNxt) || seqLe(right, this.sndUna)) continue;
      if (seqLt(left, this.sndUna)) left = this.sndUna;
      let sb = this.scoreboard;
      if (sb === undefined) sb = this.scoreboard = new SeqRanges(this.host.config.scoreboardRanges);
      if (sb.wouldGrow(left, right)) {
        if (!sb.add(left, right)) {
          // Scoreboard full: keep the highest information (drop the lowest range).
          sb.trimBelow(sb.ends[0]!);
          sb.add(left, right);
        }
        grew = true;
      }
    }
    return grew;
  }

  #ackNewData(ack: number, opts: TcpOptions, now: number): void {
    const stats = this.host.stats;
    const acked = seqDiff(ack, this.sndUna);
    const flightBefore = seqDiff(this.sndNxt, this.sndUna);
    const seqEnd = this.#seqEnd();
    const newBase = seqMin(ack, seqEnd);
    const dataAcked = seqDiff(newBase, this.sndBase);
    if (dataAcked > 0) {
      this.sendRing.consume(dataAcked);
      this.sndBase = newBase;
      if (this.sendRing.length === 0) this.sendRing.release();
    }
    this.sndUna = ack;
    if (seqLt(this.highRxt, ack)) this.highRxt = ack;
    this.scoreboard?.trimBelow(ack);
    this.retries = 0;

    // RTT sample (RFC 6298 with Karn's rule, or RFC 7323 timestamps).
    if (this.tsOk && opts.timestamp && opts.tsEcr !== 0) {
      this.#rttSample(this.#tsRtt(opts.tsEcr, now));
    } else if (this.rttTimed && seqGt(ack, this.rttSeq)) {
      this.rttTimed = false;
      this.#rttSample(now - this.rttStart);
    }

    // Congestion control and recovery.
    switch (this.recovery) {
      case RECOVERY_NONE:
        this.dupAcks = 0;
        // Grow only a window that is in use (RFC 7661): an application- or
        // receiver-limited sender keeps its cwnd.
        if (dataAcked > 0 && this.#cwndLimited(flightBefore)) this.cc.onAck(this, dataAcked, now);
        break;
      case RECOVERY_SACK:
        if (seqGe(ack, this.recoverSeq)) {
          this.recovery = RECOVERY_NONE;
          this.cwnd = Math.max(this.ssthresh, this.smss);
          this.dupAcks = 0;
        }
        break;
      case RECOVERY_NEWRENO:
        if (seqGe(ack, this.recoverSeq)) {
          const flight = seqDiff(this.sndNxt, this.sndUna);
          this.cwnd = Math.min(this.ssthresh, Math.max(flight, this.smss) + this.smss);
          this.recovery = RECOVERY_NONE;
          this.dupAcks = 0;
        } else {
          // Partial ACK (RFC 6582 §3.2 step 5): retransmit the next hole, deflate.
          stats.retransmittedSegments++;
          this.#emitRange(this.sndUna, this.smss, true, now);
          this.cwnd = Math.max(this.cwnd - acked + (acked >= this.smss ? this.smss : 0), this.smss);
        }
        break;
      case RECOVERY_LOSS:
        if (dataAcked > 0 && this.#cwndLimited(flightBefore)) this.cc.onAck(this, dataAcked, now);
        if (seqGe(ack, this.recoverSeq)) {
          this.recovery = RECOVERY_NONE;
          this.dupAcks = 0;
        }
        break;
    }

    // RFC 6298 (5.2, 5.3): stop the timer when all is acknowledged, else restart it.
    this.rtoAt = this.sndUna === this.sndNxt ? NEVER : now + this.rto;

    if (this.finSent && ack === this.sndNxt) this.#ourFinAcked(now);
    if (this.state === CLOSED) return;
    this.flow?.pumpWrites();
  }

  /** Was the window in use when this ACK's data was sent? (Slow start: half of it, as Linux.) */
  #cwndLimited(flight: number): boolean {
    if (this.cwnd < this.ssthresh) return 2 * flight >= this.cwnd;
    return flight + this.smss >= this.cwnd;
  }

  #ourFinAcked(now: number): void {
    switch (this.state) {
      case FIN_WAIT_1:
        this.state = FIN_WAIT_2;
        if (this.appClosed) this.stateAt = now + this.host.config.finWait2TimeoutNs;
        this.#notifyClosed();
        break;
      case CLOSING:
        this.#enterTimeWait(now);
        break;
      case LAST_ACK:
        this.#destroy(undefined);
        break;
    }
  }

  #dupAck(now: number): void {
    if (this.recovery === RECOVERY_NEWRENO) {
      this.cwnd += this.smss; // inflation (RFC 6582 §3.2 step 4)
      return;
    }
    if (this.recovery !== RECOVERY_NONE) return;
    this.dupAcks++;
    if (this.sackOk) {
      if (this.dupAcks >= DUP_THRESH || this.#isLost(this.sndUna)) this.#enterSackRecovery(now);
      return;
    }
    // NewReno: enter only when the ACK covers more than `recover` (RFC 6582 §3.2 step 2).
    if (this.dupAcks === DUP_THRESH && seqGt(this.sndUna, this.recoverSeq)) {
      this.host.stats.fastRetransmits++;
      this.host.stats.retransmittedSegments++;
      this.recoverSeq = this.sndNxt;
      this.cc.onCongestionEvent(this, seqDiff(this.sndNxt, this.sndUna), now);
      this.rttTimed = false;
      this.#emitRange(this.sndUna, this.smss, true, now);
      this.cwnd = this.ssthresh + DUP_THRESH * this.smss;
      this.recovery = RECOVERY_NEWRENO;
    }
  }

  #enterSackRecovery(now: number): void {
    const stats = this.host.stats;
    stats.fastRetransmits++;
    stats.sackRecoveries++;
    this.recoverSeq = this.sndNxt;
    this.cc.onCongestionEvent(this, this.#pipe(), now);
    this.cwnd = this.ssthresh;
    this.highRxt = this.sndUna;
    this.recovery = RECOVERY_SACK;
    this.rttTimed = false;
    this.#forceRxt = true;
  }

  #tsRtt(tsEcr: number, now: number): number {
    const ticks = seqDiff(this.#tsNow(now), tsEcr);
    return ticks < 0 ? 0 : ticks * 1e6;
  }

  #rttSample(r: number): void {
    if (!(r >= 0)) return;
    const c = this.host.config;
    if (this.srtt === 0) {
      this.srtt = r || 1;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(c.timerGranularityNs, 4 * this.rttvar);
    this.rto = Math.min(Math.max(rto, c.minRtoNs), c.maxRtoNs);
  }

  // ---- SACK scoreboard queries (RFC 6675 §4) ----------------------------------------------------

  /** Below this sequence number every un-SACKed byte is considered lost. */
  #lostBoundary(): number {
    let boundary = this.sndUna;
    const sb = this.scoreboard;
    if (sb !== undefined && sb.count > 0) {
      let bytes = 0;
      for (let k = sb.count - 1, n = 1; k >= 0; k--, n++) {
        bytes += (sb.ends[k]! - sb.starts[k]!) >>> 0;
        if (n >= DUP_THRESH || bytes > (DUP_THRESH - 1) * this.smss) {
          boundary = sb.starts[k]!;
          break;
        }
      }
    }
    if (this.recovery === RECOVERY_LOSS) boundary = seqMax(boundary, this.recoverSeq);
    return seqMin(seqMax(boundary, this.sndUna), this.sndNxt);
  }

  #isLost(seq: number): boolean {
    if (!seqLt(seq, this.#lostBoundary())) return false;
    return !(this.scoreboard?.contains(seq) ?? false);
  }

  #sackedIn(from: number, to: number): number {
    const sb = this.scoreboard;
    return sb === undefined || sb.count === 0 ? 0 : sb.coveredIn(from, to);
  }

  /** RFC 6675 SetPipe(): bytes believed to be in the network. */
  #pipe(): number {
    const una = this.sndUna;
    const nxt = this.sndNxt;
    const lost = this.#lostBoundary();
    const rxt = seqMin(seqMax(this.highRxt, una), lost);
    const outstanding = seqDiff(nxt, una) - this.#sackedIn(una, nxt);
    const lostBytes = seqDiff(lost, una) - this.#sackedIn(una, lost);
    const rxtBytes = seqDiff(rxt, una) - this.#sackedIn(una, rxt);
    return outstanding - lostBytes + rxtBytes;
  }

  // ---- receiving data ------------------------------------------------------------------------

  #inputData(seg: SegmentIn, now: number): void {
    const st = this.state;
    let s = seg.seq;
    let off = seg.dataOffset;
    let n = seg.dataLength;
    let fin = (seg.flags & FIN) !== 0;
    if (seg.flags & SYN) s = seqAdd(s, 1);
    if (n === 0 && !fin) return;
    const canReceive = st === ESTABLISHED || st === FIN_WAIT_1 || st === FIN_WAIT_2;
    if (!canReceive) {
      // The peer already sent its FIN; a retransmitted FIN or data is answered with an ACK.
      if (st === TIME_WAIT && fin) this.stateAt = now + this.host.config.timeWaitNs;
      this.ackNow = true;
      return;
    }
    // Trim what we already have.
    const dup = seqDiff(this.rcvNxt, s);
    if (dup > 0) {
      if (dup > n) {
        // Entirely old, FIN included.
        this.ackNow = true;
        return;
      }
      off += dup;
      n -= dup;
      s = this.rcvNxt;
      this.ackNow = true;
    }
    if (n > 0 && this.appClosed) {
      // New data for a connection the application closed: nobody will read it (RFC 2525 §2.17).
      this.#abortWithReset(now, new ConnectionClosedError("data received after close"));
      return;
    }
    // Trim to the window and to the buffer.
    const ring = this.recvRing;
    const offset = seqDiff(s, this.rcvNxt);
    const room = Math.min(seqDiff(this.rcvAdv, s), ring.capacity - ring.length - offset);
    if (n > room) {
      n = Math.max(0, room);
      fin = false;
    }
    if (this.peerFinSeq >= 0 && n > 0 && seqGt(seqAdd(s, n), this.peerFinSeq)) {
      n = Math.max(0, seqDiff(this.peerFinSeq, s)); // nothing exists beyond a FIN
    }
    if (n > this.rcvMss) this.rcvMss = Math.min(n, this.ourMss);
    const stats = this.host.stats;
    if (n > 0) {
      if (offset === 0) {
        ring.writeAt(ring.length, seg.buf, off, n);
        ring.extend(n);
        this.rcvNxt = seqAdd(this.rcvNxt, n);
        const ooo = this.ooo;
        if (ooo !== undefined && ooo.count > 0) {
          // A hole was filled: take what became contiguous, ACK at once (RFC 5681 §4.2).
          for (;;) {
            const end = ooo.shiftIfStartsBy(this.rcvNxt);
            if (end < 0) break;
            if (seqGt(end, this.rcvNxt)) {
              ring.extend(seqDiff(end, this.rcvNxt));
              this.rcvNxt = end;
            }
          }
          this.ackNow = true;
        } else this.#ackReceived(n, now);
        this.#readableChanged();
      } else {
        // Out of order: keep it, ACK at once with SACK blocks.
        let ooo = this.ooo;
        if (ooo === undefined) ooo = this.ooo = new SeqRanges(this.host.config.reassemblyRanges);
        if (ooo.add(s, seqAdd(s, n))) ring.writeAt(ring.length + offset, seg.buf, off, n);
        else {
          stats.rxReassemblyFull++;
          fin = false;
        }
        this.ackNow = true;
      }
    }
    if (fin) {
      const finSeq = seqAdd(s, n);
      if (finSeq === this.rcvNxt) this.#receiveFin(now);
      else if (seqGt(finSeq, this.rcvNxt)) this.peerFinSeq = finSeq;
    } else if (this.peerFinSeq >= 0 && this.peerFinSeq === this.rcvNxt) {
      this.#receiveFin(now);
    }
  }

  /**
   * Delayed ACKs for `n` new in-order bytes. Two full segments are owed an
   * ACK (RFC 5681 §4.2); it goes out once the current batch of received
   * segments is processed (like GRO), or at once after 64 KiB, so one ACK
   * covers a whole batch. A lone segment waits for the delayed-ACK timer.
   */
  #ackReceived(n: number, now: number): void {
    this.unackedBytes += n;
    if (this.unackedBytes >= ACK_COALESCE_BYTES) this.ackNow = true;
    else if (this.unackedBytes >= 2 * this.rcvMss) {
      if (!this.ackBatched) {
        this.ackBatched = true;
        this.host.queueFlush(this);
      }
    } else if (this.delackAt === NEVER) {
      this.delackAt = now + this.host.config.delayedAckNs;
      this.#schedule(this.delackAt);
    }
  }

  #receiveFin(now: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.peerFin = true;
    this.peerFinSeq = -1;
    this.ackNow = true;
    switch (this.state) {
      case ESTABLISHED:
        this.state = CLOSE_WAIT;
        break;
      case FIN_WAIT_1:
        if (this.finSent && this.sndUna === this.sndNxt) this.#enterTimeWait(now);
        else this.state = CLOSING;
        break;
      case FIN_WAIT_2:
        this.#enterTimeWait(now);
        break;
    }
    this.#readableChanged();
  }

  #readableChanged(): void {
    if (this.flow !== undefined) this.host.queueFlush(this);
  }

  #enterTimeWait(now: number): void {
    this.state = TIME_WAIT;
    this.rtoAt = NEVER;
    this.persistAt = NEVER;
    this.keepaliveAt = NEVER;
    this.sendRing.reset();
    this.scoreboard = undefined;
    this.ackNow = true;
    if (!this.host.enterTimeWait(this)) {
      // Too many TIME-WAIT connections: send the final ACK and close now.
      this.#sendAck(now);
      this.#destroy(undefined);
      return;
    }
    this.stateAt = now + this.host.config.timeWaitNs;
    this.#schedule(this.stateAt);
    this.#notifyClosed();
  }

  // ---- application interface -----------------------------------------------------------------

  /** Copies up to data.length - from bytes into the send buffer; returns how many. */
  write(data: Uint8Array, from: number): number {
    const st = this.state;
    if (
      this.finQueued ||
      !(st === ESTABLISHED || st === CLOSE_WAIT || st === SYN_SENT || st === SYN_RECEIVED)
    )
      return 0;
    const n = this.sendRing.append(data, from, data.length - from);
    if (n > 0 && !this.needsOutput) {
      this.needsOutput = true;
      this.host.queueFlush(this);
    }
    return n;
  }

  /** Takes every received in-order byte: a new array, null at end of stream, undefined when none. */
  read(): Uint8Array | null | undefined {
    const ring = this.recvRing;
    const n = ring.length;
    if (n === 0) return this.peerFin ? null : undefined;
    const out = new Uint8Array(n);
    ring.readAt(0, out, 0, n);
    ring.consume(n);
    if (this.ooo === undefined || this.ooo.count === 0) ring.release();
    this.#windowMaybeOpened();
    return out;
  }

  /** Discards received data (the application stopped reading). */
  discardReceived(): void {
    const n = this.recvRing.length;
    if (n === 0) return;
    this.recvRing.consume(n);
    if (this.ooo === undefined || this.ooo.count === 0) this.recvRing.release();
    this.#windowMaybeOpened();
  }

  #windowMaybeOpened(): void {
    const st = this.state;
    if (!(st === ESTABLISHED || st === FIN_WAIT_1 || st === FIN_WAIT_2)) return;
    // Send a window update when the window grew by two segments or half the buffer (RFC 9293 §3.8.6.2.2).
    const current = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    const possible = this.#receiveSpace();
    const threshold = Math.min(this.recvRing.capacity >> 1, 2 * this.rcvMss);
    if (possible - current >= threshold) {
      this.ackNow = true;
      if (!this.needsOutput) {
        this.needsOutput = true;
        this.host.queueFlush(this);
      }
    }
  }

  /** Half-close: FIN after the queued data. */
  shutdown(now: number): void {
    if (this.finQueued) return;
    const st = this.state;
    if (st === ESTABLISHED) this.state = FIN_WAIT_1;
    else if (st === CLOSE_WAIT) this.state = LAST_ACK;
    else if (st === SYN_RECEIVED) this.state = FIN_WAIT_1;
    else return;
    this.finQueued = true;
    this.#output(now);
    const next = this.#nextDeadline();
    if (next !== NEVER) this.#schedule(next);
  }

  /** The application releases the connection (after shutdown). */
  close(now: number): void {
    if (this.appClosed) return;
    this.appClosed = true;
    if (this.recvRing.length > 0) {
      // Unread data: tell the peer it was lost (RFC 2525 §2.17, Linux).
      this.#abortWithReset(now, new ConnectionClosedError());
      return;
    }
    if (this.state === SYN_SENT) {
      this.#destroy(new ConnectionClosedError());
      return;
    }
    this.shutdown(now);
    if (this.state === FIN_WAIT_2) {
      this.stateAt = now + this.host.config.finWait2TimeoutNs;
      this.#schedule(this.stateAt);
      this.#notifyClosed();
    }
  }

  /** Resets the connection at once. */
  abort(now: number, error: AtollError = new ConnectionClosedError("connection aborted")): void {
    if (this.state === CLOSED) return;
    this.appClosed = true; // nothing will be read any more
    this.#abortWithReset(now, error);
  }

  #abortWithReset(_now: number, error: AtollError): void {
    const st = this.state;
    if (st !== SYN_SENT && st !== CLOSED && st !== TIME_WAIT) {
      this.#sendReset(this.sndNxt, 0, false);
    }
    this.#destroy(error);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (noDelay && this.sendRing.length > 0 && !this.needsOutput) {
      this.needsOutput = true;
      this.host.queueFlush(this);
    }
  }

  setKeepAlive(enabled: boolean, idleNs: number | undefined, now: number): void {
    this.keepAlive = enabled;
    if (idleNs !== undefined && idleNs > 0) this.keepIdle = idleNs;
    this.keepProbes = 0;
    if (!enabled) {
      this.keepaliveAt = NEVER;
      return;
    }
    if (this.state >= ESTABLISHED) this.#armKeepalive(now);
  }

  /** Runs from the engine's microtask: output after writes, then application notifications. */
  flush(now: number): void {
    this.flushQueued = false;
    if (this.ackBatched) {
      this.ackBatched = false;
      if (this.unackedBytes > 0) {
        this.ackNow = true;
        this.needsOutput = true;
      }
    }
    if (this.needsOutput) {
      this.needsOutput = false;
      if (this.state !== CLOSED) {
        this.#output(now);
        const next = this.#nextDeadline();
        if (next !== NEVER) this.#schedule(next);
      }
    }
    this.flow?.deliver();
  }

  /** Closed or TIME-WAIT: the application sees the connection as finished. */
  get finished(): boolean {
    return this.state === CLOSED || this.state === TIME_WAIT;
  }

  #notifyClosed(): void {
    if (this.flow !== undefined) this.host.queueFlush(this);
  }

  /** Fails the connection with `error` (sending RST when `reset`). */
  #fail(error: AtollError, _now: number, reset: boolean): void {
    if (this.state === SYN_SENT || this.state === SYN_RECEIVED) this.host.stats.attemptFails++;
    if (reset && this.state !== SYN_SENT) this.#sendReset(this.sndNxt, 0, false);
    const failed = this.onFailed;
    this.onFailed = undefined;
    this.onEstablished = undefined;
    this.#destroy(error);
    failed?.(error);
  }

  /** Ends a connection quietly (a TIME-WAIT incarnation replaced by a new SYN). */
  expire(): void {
    this.#destroy(undefined);
  }

  /** Fails a connection from outside (ICMP hard error, engine close). */
  failWith(error: AtollError, now: number, reset: boolean): void {
    if (this.state === CLOSED) return;
    this.#fail(error, now, reset);
  }

  #destroy(error: AtollError | undefined): void {
    if (this.state === CLOSED) return;
    const log = this.host.log;
    if (log.enabled("debug"))
      log.debug("connection closed", {
        local: `${formatIpv4(this.localAddr)}:${this.localPort}`,
        remote: `${formatIpv4(this.remoteAddr)}:${this.remotePort}`,
        from: this.stateName,
        error: error?.code,
      });
    if (error !== undefined && this.error === undefined) this.error = error;
    this.state = CLOSED;
    this.rtoAt = this.persistAt = this.delackAt = this.keepaliveAt = this.stateAt = NEVER;
    this.sendRing.reset();
    this.scoreboard = undefined;
    // Received data stays readable after a reset or timeout, unless the application let go.
    this.ooo = undefined;
    if (this.appClosed || this.recvRing.length === 0) this.recvRing.reset();
    this.host.forget(this);
    if (this.onFailed !== undefined && error !== undefined) {
      const failed = this.onFailed;
      this.onFailed = undefined;
      this.onEstablished = undefined;
      failed(error);
    }
    if (this.flow !== undefined) {
      this.flow.pumpWrites();
      this.host.queueFlush(this);
    }
  }

  // ---- output --------------------------------------------------------------------------------

  #output(now: number): void {
    const st = this.state;
    if (st === CLOSED) return;
    if (
      st === ESTABLISHED ||
      st === CLOSE_WAIT ||
      st === FIN_WAIT_1 ||
      st === CLOSING ||
      st === LAST_ACK
    ) {
      // Restart after idle (RFC 5681 §4.1): a connection idle for an RTO restarts from the initial window.
      if (this.sndUna === this.sndNxt && this.lastSendAt > 0 && now - this.lastSendAt > this.rto) {
        const iw = Math.min(10 * this.smss, Math.max(2 * this.smss, 14600));
        if (this.cwnd > iw) this.cwnd = iw;
      }
      for (let budget = 4096; budget > 0; budget--) if (!this.#sendOne(now)) break;
      if (
        this.sndNxt === this.sndUna &&
        this.persistAt === NEVER &&
        (seqDiff(this.#seqEnd(), this.sndNxt) > 0 || (this.finQueued && !this.finSent))
      ) {
        this.#armPersist(now);
      }
    }
    if (this.ackNow && st !== SYN_SENT) this.#sendAck(now);
  }

  /** Sends one segment if the windows allow; false when nothing (more) can go. */
  #sendOne(now: number): boolean {
    const rec = this.recovery;
    const smss = this.smss;
    let room: number;
    if (rec === RECOVERY_SACK || rec === RECOVERY_LOSS) {
      const pipe = this.#pipe();
      room = this.cwnd - pipe;
      if (room >= smss || this.#forceRxt) {
        const lost = this.#lostBoundary();
        let s = seqMax(this.highRxt, this.sndUna);
        if (this.scoreboard !== undefined) s = this.scoreboard.skip(s);
        if (seqLt(s, lost)) {
          this.#forceRxt = false;
          const holeEnd =
            this.scoreboard === undefined ? lost : this.scoreboard.nextStartAfter(s, lost);
          const end = seqMin(holeEnd, lost);
          const span = this.#emitRange(s, Math.min(smss, seqDiff(end, s)), true, now);
          if (span === 0) return false;
          this.host.stats.retransmittedSegments++;
          this.highRxt = seqAdd(s, span);
          return true;
        }
        this.#forceRxt = false;
      }
    } else if (rec === RECOVERY_NEWRENO) {
      room = this.cwnd - seqDiff(this.sndNxt, this.sndUna);
    } else {
      const limited = this.dupAcks > 0 && this.dupAcks < DUP_THRESH ? this.dupAcks * smss : 0;
      room = this.cwnd + limited - seqDiff(this.sndNxt, this.sndUna);
    }

    // New data.
    const seqEnd = this.#seqEnd();
    const unsent = this.finSent ? 0 : seqDiff(seqEnd, this.sndNxt);
    if (unsent > 0) {
      let len = Math.min(unsent, smss);
      const wndRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      if (wndRoom < len) {
        if (wndRoom <= 0) return false;
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): all of it, or half the largest window.
        if (wndRoom < unsent && wndRoom < this.maxSndWnd >> 1) return false;
        len = wndRoom;
      }
      if (room < len) return false;
      const flight = seqDiff(this.sndNxt, this.sndUna);
      // Nagle (RFC 9293 §3.7.4): one small segment in flight at a time.
      if (len < smss && len === unsent && !this.noDelay && flight > 0 && !this.finQueued)
        return false;
      const span = this.#emitRange(this.sndNxt, len, false, now);
      return span > 0;
    }
    if (this.finQueued && !this.finSent && this.sndNxt === seqEnd) {
      this.#emitRange(this.sndNxt, 0, false, now);
      return true;
    }
    return false;
  }

  /**
   * Sends data from `seq` (at most `maxSpan` sequence numbers, FIN included
   * when it falls in range). Returns the sequence space covered; new data
   * advances SND.NXT.
   */
  #emitRange(seq: number, maxSpan: number, retransmit: boolean, now: number): number {
    const seqEnd = this.#seqEnd();
    const avail = Math.max(0, seqDiff(seqEnd, seq));
    const data = Math.min(maxSpan, avail);
    let flags = ACK;
    let wantFin = false;
    if (this.finQueued && seqAdd(seq, data) === seqEnd) {
      wantFin = retransmit ? this.finSent && maxSpan > data : !this.finSent;
      if (wantFin) flags |= FIN;
    }
    if (data === 0 && !wantFin) return 0;
    if (data > 0 && seqAdd(seq, data) === seqEnd) flags |= PSH;
    const sent = this.#emit(seq, data, flags, now);
    const fin = wantFin && sent === data;
    const span = sent + (fin ? 1 : 0);
    if (!retransmit) {
      const end = seqAdd(seq, span);
      if (seqGt(end, this.sndNxt)) this.sndNxt = end;
      if (fin) this.finSent = true;
      if (!this.rttTimed && !this.tsOk && span > 0) {
        this.rttTimed = true;
        this.rttSeq = seq;
        this.rttStart = now;
      }
    } else if (this.rttTimed && seqLe(seq, this.rttSeq) && seqLt(this.rttSeq, seqAdd(seq, span))) {
      this.rttTimed = false; // Karn: never time a retransmitted segment
    }
    if (span > 0 && this.rtoAt === NEVER) {
      this.rtoAt = now + this.rto;
      this.#schedule(this.rtoAt);
    }
    return span;
  }

  #sendAck(now: number): void {
    if (this.state === CLOSED || this.state === SYN_SENT) return;
    this.#emit(this.sndNxt, 0, ACK, now);
  }

  /** Our timestamp clock at `now` (1 ms ticks plus the per-connection offset). */
  #tsNow(now: number): number {
    return (Math.floor(now / 1e6) + this.tsOffset) >>> 0;
  }

  /** Free receive space we can offer, keeping one window-scale unit in reserve for rounding. */
  #receiveSpace(): number {
    const ring = this.recvRing;
    return Math.max(0, ring.capacity - ring.length - (1 << this.rcvShift));
  }

  /** The window field for an outgoing segment; updates RCV.ADV. */
  #windowField(syn: boolean): number {
    const space = this.#receiveSpace();
    if (syn) {
      const w = Math.min(space, 65535);
      this.rcvAdv = seqAdd(this.rcvNxt, w);
      return w;
    }
    const shift = this.rcvShift;
    const current = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    let win = current;
    // Receiver SWS avoidance: move the right edge only by a useful amount.
    if (space - current >= Math.min(this.recvRing.capacity >> 1, this.rcvMss)) win = space;
    let field = Math.ceil(win / (1 << shift));
    if (field > 65535) field = 65535;
    this.rcvAdv = seqAdd(this.rcvNxt, field << shift);
    return field;
  }

  /**
   * Builds and sends one segment in a buffer from the lower layer. Returns the
   * payload bytes actually sent (clamped to the segment size).
   */
  #emit(seq: number, dataLen: number, flags: number, now: number): number {
    const host = this.host;
    const syn = (flags & SYN) !== 0;
    let optLen = 0;
    let sackBlocks = 0;
    if (syn) {
      optLen = 4;
      if (this.synOptions & OFFER_WSCALE) optLen += 4;
      if (this.synOptions & OFFER_SACK) optLen += 4;
      if (this.synOptions & OFFER_TIMESTAMPS) optLen += 12;
    } else {
      if (this.tsOk) optLen += 12;
      const ooo = this.ooo;
      if (this.sackOk && ooo !== undefined && ooo.count > 0 && flags & ACK) {
        sackBlocks = Math.min(ooo.count, this.tsOk ? 3 : 4);
        optLen += 4 + 8 * sackBlocks;
      }
    }
    const hdr = TCP_HEADER_LENGTH + optLen;
    if (dataLen > this.maxSeg - hdr) {
      dataLen = Math.max(0, this.maxSeg - hdr);
      flags &= ~FIN;
    }
    const length = hdr + dataLen;
    const { buffer, offset } = host.lower.allocate(length);
    const window = this.#windowField(syn);
    const ackNum = flags & ACK ? this.rcvNxt : 0;
    writeHeader(buffer, offset, this.localPort, this.remotePort, seq, ackNum, flags, window, hdr);
    let p = offset + TCP_HEADER_LENGTH;
    if (syn) {
      p = writeMssOption(buffer, p, this.ourMss);
      if (this.synOptions & OFFER_WSCALE) p = writeWindowScaleOption(buffer, p, this.rcvShift);
      if (this.synOptions & OFFER_SACK) p = writeSackPermittedOption(buffer, p);
      if (this.synOptions & OFFER_TIMESTAMPS)
        p = writeTimestampOption(buffer, p, this.#tsNow(now), flags & ACK ? this.tsRecent : 0);
    } else {
      if (this.tsOk) p = writeTimestampOption(buffer, p, this.#tsNow(now), this.tsRecent);
      if (sackBlocks > 0) {
        const blocks = sackScratch;
        this.ooo!.recent(blocks, sackBlocks);
        p = writeSackOption(buffer, p, blocks, sackBlocks);
      }
    }
    if (dataLen > 0) this.sendRing.readAt(seqDiff(seq, this.sndBase), buffer, p, dataLen);
    fillChecksum(buffer, offset, length, this.localAddr, this.remoteAddr);
    if (!host.lower.send(this.localAddr, this.remoteAddr, buffer, offset, length))
      host.stats.txDropped++;
    host.stats.txSegments++;
    if (flags & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.unackedBytes = 0;
      this.ackNow = false;
      this.delackAt = NEVER;
    }
    if (dataLen > 0 || syn || flags & FIN) this.lastSendAt = now;
    return dataLen;
  }

  /** Sends <SEQ=seq><CTL=RST> (with ACK=ack when `withAck`). */
  #sendReset(seq: number, ack: number, withAck: boolean): void {
    const host = this.host;
    const { buffer, offset } = host.lower.allocate(TCP_HEADER_LENGTH);
    writeHeader(
      buffer,
      offset,
      this.localPort,
      this.remotePort,
      seq,
      withAck ? ack : 0,
      withAck ? RST | ACK : RST,
      0,
      TCP_HEADER_LENGTH,
    );
    fillChecksum(buffer, offset, TCP_HEADER_LENGTH, this.localAddr, this.remoteAddr);
    if (!host.lower.send(this.localAddr, this.remoteAddr, buffer, offset, TCP_HEADER_LENGTH))
      host.stats.txDropped++;
    host.stats.txSegments++;
    host.stats.resetsSent++;
  }

  // ---- ICMP (RFC 5927) -------------------------------------------------------------------------

  /** An ICMP error quoting `seq`. Returns false when the quoted sequence number is not in flight. */
  icmpError(
    seq: number,
    kind: "unreachable" | "port-unreachable" | "frag-needed",
    mtu: number | undefined,
    now: number,
  ): boolean {
    // RFC 5927 §4.1: SND.UNA <= SEG.SEQ < SND.NXT.
    if (!(seqLe(this.sndUna, seq) && seqLt(seq, this.sndNxt))) return false;
    if (kind === "frag-needed") {
      if (mtu === undefined || mtu < 576) return false; // ignore implausible PMTU claims
      const maxSeg = mtu - 20;
      if (maxSeg >= this.maxSeg) return true;
      this.maxSeg = maxSeg;
      this.smss = maxSeg - TCP_HEADER_LENGTH - (this.tsOk ? 12 : 0);
      if (this.state >= ESTABLISHED && this.sndNxt !== this.sndUna) {
        // Resend what did not fit, without treating it as congestion (RFC 1191).
        this.host.stats.retransmittedSegments++;
        this.#emitRange(this.sndUna, this.smss, true, now);
      }
      return true;
    }
    this.softError = kind;
    if (this.state === SYN_SENT && kind === "port-unreachable") {
      // A hard error during connection establishment aborts it (RFC 1122 §4.2.3.9, RFC 5927 §4.2).
      this.#fail(this.#refused(), now, false);
    }
    return true;
  }

  /** Debugging view. */
  describe(): string {
    return `${this.stateName} una=${this.sndUna} nxt=${this.sndNxt} wnd=${this.sndWnd} rcv=${this.rcvNxt} cwnd=${this.cwnd} ssthresh=${this.ssthresh} rto=${this.rto} rec=${this.recovery}`;
  }
}

const sackScratch: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
