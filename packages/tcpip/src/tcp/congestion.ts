// Congestion window algorithms: NewReno's AIMD (RFC 5681) and CUBIC
// (RFC 9438). They only size the window; loss detection and recovery
// (fast retransmit, NewReno partial ACKs, SACK recovery, RTO) live in the
// connection. One instance per connection, chosen per stack or per connection.

/** What a congestion controller reads and writes on its connection. */
export interface CongestionState {
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Sender MSS, bytes. */
  readonly smss: number;
  /** Smoothed RTT, ns (0 before the first sample). */
  readonly srtt: number;
}

export type CongestionControlName = "newreno" | "cubic";

export interface CongestionControl {
  readonly name: CongestionControlName;
  /** `acked` new bytes were acknowledged outside loss recovery. */
  onAck(c: CongestionState, acked: number, now: number): void;
  /** A loss was detected by duplicate ACKs or SACK: set ssthresh (the caller sets cwnd). */
  onCongestionEvent(c: CongestionState, flightSize: number, now: number): void;
  /** The retransmission timer expired: ssthresh and cwnd for the loss window (RFC 5681 §3.1). */
  onTimeout(c: CongestionState, flightSize: number, now: number, firstTimeout: boolean): void;
}

/**
 * Slow start with appropriate byte counting (RFC 3465, L = 2·SMSS). Returns
 * the bytes left over once cwnd reaches ssthresh, for congestion avoidance.
 */
function slowStart(c: CongestionState, acked: number): number {
  const room = c.ssthresh - c.cwnd;
  const grow = Math.min(acked, 2 * c.smss);
  if (grow <= room) {
    c.cwnd += grow;
    return 0;
  }
  c.cwnd = c.ssthresh;
  return acked - room;
}

/** RFC 5681 congestion avoidance: one SMSS per window of acknowledged bytes. */
export class NewReno implements CongestionControl {
  readonly name = "newreno";
  #acc = 0;

  onAck(c: CongestionState, acked: number): void {
    if (c.cwnd < c.ssthresh) {
      acked = slowStart(c, acked);
      if (acked === 0) return;
    }
    this.#acc += acked;
    if (this.#acc >= c.cwnd) {
      this.#acc -= c.cwnd;
      c.cwnd += c.smss;
    }
  }

  onCongestionEvent(c: CongestionState, flightSize: number): void {
    c.ssthresh = Math.max(flightSize >> 1, 2 * c.smss);
    this.#acc = 0;
  }

  onTimeout(c: CongestionState, flightSize: number, _now: number, firstTimeout: boolean): void {
    if (firstTimeout) c.ssthresh = Math.max(flightSize >> 1, 2 * c.smss);
    c.cwnd = c.smss;
    this.#acc = 0;
  }
}

const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: the Reno-friendly additive increase with β = 0.7. */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** CUBIC (RFC 9438), with fast convergence and the Reno-friendly region. Windows in segments. */
export class Cubic implements CongestionControl {
  readonly name = "cubic";
  /** W_max and the W_max before it (fast convergence), segments. */
  #wMax = 0;
  #wLastMax = 0;
  /** Start of the current congestion-avoidance epoch, ns, or -1. */
  #epoch = -1;
  #k = 0;
  #origin = 0;
  /** The Reno-friendly estimate W_est, segments. */
  #wEst = 0;

  onAck(c: CongestionState, acked: number, now: number): void {
    if (c.cwnd < c.ssthresh) {
      acked = slowStart(c, acked);
      if (acked === 0) return;
    }
    const smss = c.smss;
    const cwnd = c.cwnd / smss;
    if (this.#epoch < 0) {
      this.#epoch = now;
      if (cwnd < this.#wMax) {
        this.#k = Math.cbrt((this.#wMax - cwnd) / CUBIC_C);
        this.#origin = this.#wMax;
      } else {
        this.#k = 0;
        this.#origin = cwnd;
      }
      this.#wEst = cwnd;
    }
    const t = (now - this.#epoch) / 1e9;
    const rtt = c.srtt / 1e9;
    const segments = acked / smss;
    // W_est grows by α per window of ACKs, and by 1 once past W_max (RFC 9438 §4.3).
    this.#wEst += ((this.#wEst < this.#wMax ? CUBIC_ALPHA : 1) * segments) / cwnd;
    const wCubic = this.#origin + CUBIC_C * (t - this.#k) ** 3;
    if (wCubic < this.#wEst) {
      // Reno-friendly region.
      if (this.#wEst > cwnd) c.cwnd = Math.round(this.#wEst * smss);
      return;
    }
    let target = this.#origin + CUBIC_C * (t + rtt - this.#k) ** 3;
    if (target < cwnd) target = cwnd;
    else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    c.cwnd = Math.round((cwnd + ((target - cwnd) / cwnd) * segments) * smss);
  }

  #reduce(c: CongestionState): void {
    const cwnd = c.cwnd / c.smss;
    if (cwnd < this.#wLastMax) {
      // Fast convergence (RFC 9438 §4.7): release bandwidth to newer flows.
      this.#wLastMax = cwnd;
      this.#wMax = (cwnd * (1 + CUBIC_BETA)) / 2;
    } else {
      this.#wLastMax = cwnd;
      this.#wMax = cwnd;
    }
    this.#epoch = -1;
  }

  onCongestionEvent(c: CongestionState, flightSize: number): void {
    this.#reduce(c);
    c.ssthresh = Math.max(Math.round(Math.min(c.cwnd, flightSize) * CUBIC_BETA), 2 * c.smss);
  }

  onTimeout(c: CongestionState, flightSize: number, _now: number, firstTimeout: boolean): void {
    if (firstTimeout) {
      this.#reduce(c);
      c.ssthresh = Math.max(Math.round(Math.min(c.cwnd, flightSize) * CUBIC_BETA), 2 * c.smss);
    }
    c.cwnd = c.smss;
  }
}

export function createCongestionControl(name: CongestionControlName): CongestionControl {
  return name === "newreno" ? new NewReno() : new Cubic();
}
