// Tunables of a TCP engine, with defaults. Durations in ns, sizes in bytes.

import type { CongestionControlName } from "./congestion.js";

export interface TcpConfig {
  /** Send buffer per connection (default 256 KiB). */
  readonly sendBufferSize?: number;
  /** Receive buffer per connection, which bounds the advertised window (default 256 KiB). */
  readonly receiveBufferSize?: number;
  /** Congestion control for new connections (default "cubic"). */
  readonly congestionControl?: CongestionControlName;
  /** Offer and accept SACK (RFC 2018), default true. */
  readonly sack?: boolean;
  /** Offer and accept timestamps (RFC 7323), default true. */
  readonly timestamps?: boolean;
  /** Offer and accept window scaling (RFC 7323), default true. */
  readonly windowScaling?: boolean;
  /** Upper bound on the MSS we announce (default: what the lower layer allows). */
  readonly mss?: number;
  /** Initial window in segments (RFC 6928, default 10). */
  readonly initialWindow?: number;
  /** RFC 6298: initial RTO (default 1 s), lower and upper bounds (200 ms, 60 s). */
  readonly initialRtoNs?: number;
  readonly minRtoNs?: number;
  readonly maxRtoNs?: number;
  /** Retransmissions of one segment before giving up with ATOLL_TCP_TIMEOUT (default 15). */
  readonly maxRetransmissions?: number;
  /** SYN retransmissions before connect fails (default 6). */
  readonly maxSynRetransmissions?: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (default 5). */
  readonly maxSynAckRetransmissions?: number;
  /** Delayed ACK timeout (default 40 ms; RFC 9293 requires < 500 ms). */
  readonly delayedAckNs?: number;
  /** TIME-WAIT duration, 2·MSL (default 60 s). */
  readonly timeWaitNs?: number;
  /** Connections in TIME-WAIT at most; beyond it a connection closes at once (default 16,384). */
  readonly maxTimeWait?: number;
  /** How long an orphaned connection (closed by the application) waits in FIN-WAIT-2 (default 60 s). */
  readonly finWait2TimeoutNs?: number;
  /** Keepalive defaults (RFC 9293 §3.8.4): idle 2 h, probe interval 75 s, 9 probes. */
  readonly keepAliveIdleNs?: number;
  readonly keepAliveIntervalNs?: number;
  readonly keepAliveProbes?: number;
  /** Half-open (SYN-RECEIVED) connections per listener before SYN cookies take over (default 256). */
  readonly synBacklog?: number;
  /** Answer SYNs beyond synBacklog with SYN cookies (default true); false drops them. */
  readonly synCookies?: boolean;
  /** Challenge ACKs (RFC 5961 §7) per second, stack-wide (default 1000). */
  readonly challengeAckLimit?: number;
  /** Out-of-order ranges kept per connection (default 16); further holes are dropped. */
  readonly reassemblyRanges?: number;
  /** SACK scoreboard ranges kept per connection (default 32). */
  readonly scoreboardRanges?: number;
  /** Ephemeral port range (RFC 6335 default 49152–65535). */
  readonly ephemeralPortMin?: number;
  readonly ephemeralPortMax?: number;
  /** Timer resolution: wake-ups are rounded up to this (default 1 ms). */
  readonly timerGranularityNs?: number;
  /** Bytes of free buffer storage kept for reuse across connections (default 4 MiB). */
  readonly bufferPoolBytes?: number;
  /**
   * Header prediction (default true): the next in-order data segment of an
   * established, idle-sending connection skips the checks that cannot apply to
   * it. false runs every segment through the full input path (same behaviour,
   * slower); tests compare the two.
   */
  readonly headerPrediction?: boolean;
}

export type ResolvedTcpConfig = { -readonly [K in keyof TcpConfig]-?: NonNullable<TcpConfig[K]> };

const MS = 1_000_000;
const S = 1_000_000_000;

export function resolveConfig(c: TcpConfig = {}): ResolvedTcpConfig {
  const r: ResolvedTcpConfig = {
    sendBufferSize: c.sendBufferSize ?? 256 * 1024,
    receiveBufferSize: c.receiveBufferSize ?? 256 * 1024,
    congestionControl: c.congestionControl ?? "cubic",
    sack: c.sack ?? true,
    timestamps: c.timestamps ?? true,
    windowScaling: c.windowScaling ?? true,
    mss: c.mss ?? 65535,
    initialWindow: c.initialWindow ?? 10,
    initialRtoNs: c.initialRtoNs ?? 1 * S,
    minRtoNs: c.minRtoNs ?? 200 * MS,
    maxRtoNs: c.maxRtoNs ?? 60 * S,
    maxRetransmissions: c.maxRetransmissions ?? 15,
    maxSynRetransmissions: c.maxSynRetransmissions ?? 6,
    maxSynAckRetransmissions: c.maxSynAckRetransmissions ?? 5,
    delayedAckNs: c.delayedAckNs ?? 40 * MS,
    timeWaitNs: c.timeWaitNs ?? 60 * S,
    maxTimeWait: c.maxTimeWait ?? 16384,
    finWait2TimeoutNs: c.finWait2TimeoutNs ?? 60 * S,
    keepAliveIdleNs: c.keepAliveIdleNs ?? 2 * 3600 * S,
    keepAliveIntervalNs: c.keepAliveIntervalNs ?? 75 * S,
    keepAliveProbes: c.keepAliveProbes ?? 9,
    synBacklog: c.synBacklog ?? 256,
    synCookies: c.synCookies ?? true,
    challengeAckLimit: c.challengeAckLimit ?? 1000,
    reassemblyRanges: c.reassemblyRanges ?? 16,
    scoreboardRanges: c.scoreboardRanges ?? 32,
    ephemeralPortMin: c.ephemeralPortMin ?? 49152,
    ephemeralPortMax: c.ephemeralPortMax ?? 65535,
    timerGranularityNs: c.timerGranularityNs ?? 1 * MS,
    bufferPoolBytes: c.bufferPoolBytes ?? 4 * 1024 * 1024,
    headerPrediction: c.headerPrediction ?? true,
  };
  const positive = (name: keyof ResolvedTcpConfig, min = 1) => {
    const v = r[name] as number;
    if (!Number.isFinite(v) || v < min)
      throw new RangeError(`tcp option ${name} must be >= ${min}`);
  };
  positive("sendBufferSize", 1024);
  positive("receiveBufferSize", 1024);
  positive("mss", 64);
  positive("initialWindow");
  positive("minRtoNs");
  positive("maxRtoNs");
  positive("initialRtoNs");
  positive("synBacklog");
  positive("reassemblyRanges");
  positive("scoreboardRanges");
  if (r.receiveBufferSize > 65535 << 14) throw new RangeError("receiveBufferSize above 1 GiB");
  if (
    r.ephemeralPortMin < 1 ||
    r.ephemeralPortMax > 65535 ||
    r.ephemeralPortMin > r.ephemeralPortMax
  )
    throw new RangeError("bad ephemeral port range");
  return r;
}
