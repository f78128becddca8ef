// TCP counters. The first eight are StackStats["tcp"]; the rest say why
// segments were dropped and which recovery mechanisms ran.

export class TcpStats {
  readonly #countEstablished: () => number;
  constructor(countEstablished: () => number = () => 0) {
    this.#countEstablished = countEstablished;
  }

  activeOpens = 0;
  passiveOpens = 0;
  /** Connections in ESTABLISHED or CLOSE-WAIT (RFC 4022 tcpCurrEstab), counted when read. */
  get currentConnections(): number {
    return this.#countEstablished();
  }
  retransmittedSegments = 0;
  resetsSent = 0;
  rxSegments = 0;
  txSegments = 0;
  rxDropped = 0;

  /** Drop reasons (each also counts in rxDropped). */
  rxChecksumErrors = 0;
  rxMalformed = 0;
  rxNoConnection = 0;
  rxOutOfWindow = 0;
  rxPawsRejected = 0;
  rxMissingTimestamp = 0;
  rxReassemblyFull = 0;
  /** Segments lower.send refused (no route, queue full). */
  txDropped = 0;

  /** Connections: failures, resets and states. */
  attemptFails = 0;
  resetsReceived = 0;
  timeouts = 0;
  halfOpen = 0;
  timeWait = 0;
  timeWaitOverflow = 0;
  acceptQueueDrops = 0;
  synDropped = 0;
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesRejected = 0;

  /** RFC 5961. */
  challengeAcks = 0;
  challengeAcksSuppressed = 0;

  /** Loss recovery. */
  fastRetransmits = 0;
  sackRecoveries = 0;
  retransmissionTimeouts = 0;
  windowProbes = 0;
  keepAliveProbes = 0;
  delayedAcks = 0;

  /** In-order data segments taken by header prediction (the input fast path). */
  rxPredicted = 0;

  /** ICMP (RFC 5927). */
  icmpErrors = 0;
  icmpIgnored = 0;

  /** Exceptions caught at the engine boundary (a bug if ever non-zero). */
  internalErrors = 0;
}
