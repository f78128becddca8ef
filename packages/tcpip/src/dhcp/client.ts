// The DHCP client (RFC 2131, options of RFC 2132, address probing of
// RFC 5227): the state machine of RFC 2131 figure 5 on the stack's UDP port
// 68, with every instant from the Time/MonotonicClock devices and every
// random choice (transaction ids, backoff, probe spacing) from Random.
//
//   INIT ──DISCOVER──▶ SELECTING ──OFFER/REQUEST──▶ REQUESTING ──ACK──▶ PROBING ──quiet──▶ BOUND
//   INIT-REBOOT ──REQUEST──▶ REBOOTING ──ACK──▶ PROBING        PROBING ──conflict/DECLINE──▶ INIT (after 10 s)
//   BOUND ──T1──▶ RENEWING (unicast) ──T2──▶ REBINDING (broadcast) ──expiry──▶ INIT (address removed)
//   NAK in REQUESTING, REBOOTING, RENEWING or REBINDING ──▶ INIT (address removed)
//
// The client talks to the stack through `DhcpHost` (src/stack.ts wires it):
// UDP on port 68, ARP probes and a view of received ARP packets, and
// `apply(lease)`, which configures the interface and tells the application.

import type { MonotonicClock, Time, Timer } from "@atoll/clock";
import { DisconnectedError, formatIpv4, type Logger, parseIpv4 } from "@atoll/core";
import type { Random } from "@atoll/entropy";
import type { DhcpLease, UdpDatagram } from "../signature.js";
import { ArpOperation } from "../wire/arp.js";
import {
  BootpOp,
  DHCP_FLAG_BROADCAST,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOption,
  DhcpProblem,
  emitDhcp,
  maskPrefixLength,
  optionAddresses,
  optionUint16,
  optionUint32,
  parseDhcp,
  uint16Option,
  uint32Option,
} from "./wire.js";

/** Where the client is in RFC 2131's state machine ("stopped" before start and after stop). */
export type DhcpState =
  | "stopped"
  | "init"
  | "selecting"
  | "requesting"
  | "init-reboot"
  | "rebooting"
  | "probing"
  | "bound"
  | "renewing"
  | "rebinding";

export interface DhcpArpProbeOptions {
  /** Probes sent (RFC 5227 PROBE_NUM, default 3). */
  readonly probes?: number;
  /** Random wait before the first probe, up to this (PROBE_WAIT, default 1 s). */
  readonly waitNs?: number;
  /** Random spacing of probes (PROBE_MIN and PROBE_MAX, default 1 s and 2 s). */
  readonly minIntervalNs?: number;
  readonly maxIntervalNs?: number;
  /** Quiet time after the last probe before the address is used (ANNOUNCE_WAIT, default 2 s). */
  readonly announceWaitNs?: number;
}

export interface DhcpOptions {
  /** Sent as option 12 (host name). */
  readonly hostname?: string;
  /** Option 61, the client identifier; default type 1 (Ethernet) and the MAC. */
  readonly clientId?: Uint8Array;
  /**
   * A lease held before (saved by the application across runs): the client
   * starts in INIT-REBOOT and asks for its address again. Only the address is used.
   */
  readonly previousLease?: Pick<DhcpLease, "address">;
  /** The first message waits a random time up to this (default 1 s; RFC 2131 §4.4.1 suggests 1 to 10 s). */
  readonly startDelayNs?: number;
  /** First retransmission wait of DISCOVER and REQUEST, doubled each time (RFC 2131 §4.1: 4 s). */
  readonly retransmitNs?: number;
  /** Largest retransmission wait (64 s). */
  readonly maxRetransmitNs?: number;
  /** Each retransmission wait moves by a uniform amount in ±this (1 s). */
  readonly retransmitJitterNs?: number;
  /** REQUESTs sent in REQUESTING or REBOOTING before starting over with DISCOVER (default 4). */
  readonly requestAttempts?: number;
  /** Shortest wait between retransmissions in RENEWING and REBINDING (RFC 2131 §4.4.5: 60 s). */
  readonly renewRetransmitMinNs?: number;
  /** RFC 5227 probing of an assigned address before use, or false to skip it. */
  readonly arpProbe?: DhcpArpProbeOptions | false;
  /** Wait after declining an address before starting over (RFC 2131 §3.1.5: at least 10 s). */
  readonly declineDelayNs?: number;
}

export interface DhcpCounters {
  discoversSent: number;
  requestsSent: number;
  declinesSent: number;
  releasesSent: number;
  /** Messages sent again after no answer (included in the counts above). */
  retransmissions: number;
  /** Sends the stack refused (no route to the server, ARP gave up). */
  sendErrors: number;
  offersReceived: number;
  acksReceived: number;
  naksReceived: number;
  /** Messages on port 68 that failed parsing, or replies with unusable content (dropped). */
  rxMalformed: number;
  /** Well-formed messages for another client or transaction, or unexpected in the current state. */
  rxIgnored: number;
  /** Leases obtained from SELECTING or INIT-REBOOT. */
  leasesBound: number;
  renewals: number;
  rebinds: number;
  expiries: number;
  /** Addresses found in use by ARP probing (each declined). */
  conflicts: number;
  /** Exceptions caught in the client (should stay 0). */
  internalErrors: number;
}

/** What the client needs from the stack. */
export interface DhcpHost {
  readonly mac: Uint8Array;
  /** The interface MTU (for option 57). */
  readonly mtu: number;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log: Logger;
  /** Delivers datagrams to UDP port 68 (throws ATOLL_ADDRESS_IN_USE when taken). */
  listen(listener: (datagram: UdpDatagram) => void): void;
  unlisten(): void;
  /** Sends a datagram from port 68 to `address` port 67. */
  send(address: string, data: Uint8Array): Promise<void>;
  /** Broadcasts an ARP probe for `address` (sender address 0.0.0.0, RFC 5227 §2.1.1). */
  probe(address: number): void;
  /** Calls `observer` with every valid ARP packet received (undefined stops it). */
  watchArp(observer: ArpObserver | undefined): void;
  /** Configures the interface from `lease` (undefined: removes the address) and tells the application. */
  apply(lease: DhcpLease | undefined): void;
}

export type ArpObserver = (
  operation: number,
  senderMac: Uint8Array,
  senderIp: number,
  targetIp: number,
) => void;

/** A lease as the client keeps it: addresses as numbers, absolute deadlines on the MonotonicClock. */
interface Binding {
  readonly address: number;
  readonly prefixLength: number;
  readonly gateway: number | undefined;
  readonly dnsServers: readonly number[];
  readonly server: number;
  readonly mtu: number | undefined;
  readonly leaseNs: number;
  readonly renewalNs: number;
  readonly rebindingNs: number;
  /** When the REQUEST that won the lease was first sent: every lease time counts from here. */
  readonly since: number;
}

/** The states in which a REQUEST of ours is waiting for an ACK or a NAK. */
function awaitsReply(state: DhcpState): boolean {
  return (
    state === "requesting" || state === "rebooting" || state === "renewing" || state === "rebinding"
  );
}

const INFINITE_LEASE = 0xffffffff;
const SECOND = 1e9;
const PARAMETERS = new Uint8Array([
  DhcpOption.SUBNET_MASK,
  DhcpOption.ROUTER,
  DhcpOption.DNS_SERVERS,
  DhcpOption.INTERFACE_MTU,
  DhcpOption.LEASE_TIME,
  DhcpOption.RENEWAL_TIME,
  DhcpOption.REBINDING_TIME,
]);

export class DhcpClient {
  readonly counters: DhcpCounters = {
    discoversSent: 0,
    requestsSent: 0,
    declinesSent: 0,
    releasesSent: 0,
    retransmissions: 0,
    sendErrors: 0,
    offersReceived: 0,
    acksReceived: 0,
    naksReceived: 0,
    rxMalformed: 0,
    rxIgnored: 0,
    leasesBound: 0,
    renewals: 0,
    rebinds: 0,
    expiries: 0,
    conflicts: 0,
    internalErrors: 0,
  };
  readonly #host: DhcpHost;
  readonly #options: DhcpOptions;
  readonly #clientId: Uint8Array;
  readonly #probe: Required<DhcpArpProbeOptions> | undefined;
  #state: DhcpState = "stopped";
  #binding: Binding | undefined = undefined;
  #lease: DhcpLease | undefined = undefined;
  /** The last address bound, kept across stop/start for INIT-REBOOT (and asked for again in DISCOVER). */
  #remembered: number | undefined;
  #xid = 0;
  /** Transmissions of the current message. */
  #attempt = 0;
  /** Start of the current exchange, for the `secs` field. */
  #startedAt = 0;
  /** First transmission of the current REQUEST. */
  #requestSentAt = 0;
  #offer: { readonly address: number; readonly server: number } | undefined = undefined;
  /** An acknowledged lease being probed. */
  #candidate: Binding | undefined = undefined;
  #probesSent = 0;
  #naks = 0;
  #timer: Timer | undefined = undefined;
  #leaseTimer: Timer | undefined = undefined;
  #waiters: Array<{ resolve(lease: DhcpLease): void; reject(error: unknown): void }> = [];

  constructor(host: DhcpHost, options: DhcpOptions = {}) {
    this.#host = host;
    this.#options = options;
    this.#clientId = options.clientId ?? new Uint8Array([1, ...host.mac.subarray(0, 6)]);
    if (this.#clientId.length < 2 || this.#clientId.length > 255)
      throw new RangeError("dhcp.clientId: between 2 and 255 bytes");
    const previous = options.previousLease?.address;
    if (previous !== undefined) {
      const address = parseIpv4(previous);
      if (address === undefined || !usableAddress(address))
        throw new RangeError(`dhcp.previousLease: not a usable IPv4 address: ${previous}`);
      this.#remembered = address;
    }
    const p = options.arpProbe;
    this.#probe =
      p === false
        ? undefined
        : {
            probes: p?.probes ?? 3,
            waitNs: p?.waitNs ?? SECOND,
            minIntervalNs: p?.minIntervalNs ?? SECOND,
            maxIntervalNs: p?.maxIntervalNs ?? 2 * SECOND,
            announceWaitNs: p?.announceWaitNs ?? 2 * SECOND,
          };
    if (this.#probe !== undefined && !(this.#probe.probes >= 1))
      throw new RangeError("dhcp.arpProbe.probes: at least 1");
  }

  get state(): DhcpState {
    return this.#state;
  }

  /** The lease in use (BOUND, RENEWING, REBINDING), else undefined. */
  get lease(): DhcpLease | undefined {
    return this.#lease;
  }

  /** Starts acquiring a lease: INIT-REBOOT when an address is remembered, else INIT. No-op when running. */
  start(): void {
    if (this.#state !== "stopped") return;
    this.#host.listen((datagram) => this.#receive(datagram));
    this.#host.watchArp((op, mac, sender, target) => this.#observeArp(op, mac, sender, target));
    this.#naks = 0;
    const delay = this.#host.random.float() * (this.#options.startDelayNs ?? SECOND);
    this.#state = this.#remembered === undefined ? "init" : "init-reboot";
    this.#after(delay, () =>
      this.#state === "init-reboot" ? this.#initReboot() : this.#discover(),
    );
    this.#host.log.debug("started", { state: this.#state });
  }

  /**
   * Stops the client: cancels every timer, stops listening and removes the
   * address (nothing would renew it). The lease's address is remembered, so a
   * later start() begins in INIT-REBOOT.
   */
  stop(): void {
    if (this.#state === "stopped") return;
    this.#cancelTimers();
    this.#host.unlisten();
    this.#host.watchArp(undefined);
    this.#state = "stopped";
    this.#offer = undefined;
    this.#candidate = undefined;
    if (this.#binding !== undefined) {
      this.#binding = undefined;
      this.#lease = undefined;
      this.#host.apply(undefined);
    }
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w.reject(new DisconnectedError("DHCP client"));
  }

  /** Gives the lease back (DHCPRELEASE to the server), then stops and forgets the address. */
  async release(): Promise<void> {
    const binding = this.#binding;
    this.#remembered = undefined;
    if (binding === undefined) {
      this.stop();
      return;
    }
    this.#xid = this.#host.random.uint32();
    const message = this.#message(DhcpMessageType.RELEASE, {
      ciaddr: binding.address,
      options: [[DhcpOption.SERVER_ID, uint32Option(binding.server)]],
      parameters: false,
    });
    this.counters.releasesSent++;
    const sent = this.#send(formatIpv4(binding.server), message);
    this.stop();
    await sent;
  }

  /** Resolves with the lease once one is bound (at once when bound); rejects when stopped or aborted. */
  whenBound(signal?: AbortSignal): Promise<DhcpLease> {
    if (this.#lease !== undefined) return Promise.resolve(this.#lease);
    if (this.#state === "stopped") return Promise.reject(new DisconnectedError("DHCP client"));
    return new Promise<DhcpLease>((resolve, reject) => {
      const waiter = {
        resolve: (lease: DhcpLease) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(lease);
        },
        reject: (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  // ---- states ---------------------------------------------------------------------------------

  /** INIT → SELECTING: a new transaction, DISCOVER broadcast, retransmitted with backoff for as long as it takes. */
  #discover(): void {
    this.#state = "selecting";
    this.#xid = this.#host.random.uint32();
    this.#startedAt = this.#host.clock.now();
    this.#offer = undefined;
    this.#attempt = 0;
    this.#sendDiscover();
  }

  #sendDiscover(): void {
    const options: Array<[number, Uint8Array]> = [];
    if (this.#remembered !== undefined)
      options.push([DhcpOption.REQUESTED_ADDRESS, uint32Option(this.#remembered)]);
    this.counters.discoversSent++;
    if (this.#attempt > 0) this.counters.retransmissions++;
    void this.#send(
      "255.255.255.255",
      this.#message(DhcpMessageType.DISCOVER, { flags: DHCP_FLAG_BROADCAST, options }),
    );
    this.#after(this.#backoff(this.#attempt++), () => this.#sendDiscover());
  }

  /** INIT-REBOOT → REBOOTING: ask for the remembered address, without naming a server. */
  #initReboot(): void {
    const address = this.#remembered;
    if (address === undefined) {
      this.#discover();
      return;
    }
    this.#state = "rebooting";
    this.#xid = this.#host.random.uint32();
    this.#startedAt = this.#host.clock.now();
    this.#attempt = 0;
    this.#requestSentAt = this.#startedAt;
    this.#sendRequest();
  }

  /** Sends (or resends) the REQUEST of REQUESTING or REBOOTING; after the last attempt, starts over. */
  #sendRequest(): void {
    const attempts = this.#options.requestAttempts ?? 4;
    if (this.#attempt >= attempts) {
      this.#host.log.info("no answer to DHCPREQUEST; starting over", { state: this.#state });
      if (this.#state === "rebooting") this.#remembered = undefined;
      this.#discover();
      return;
    }
    const options: Array<[number, Uint8Array]> = [];
    if (this.#state === "requesting" && this.#offer !== undefined) {
      options.push([DhcpOption.REQUESTED_ADDRESS, uint32Option(this.#offer.address)]);
      options.push([DhcpOption.SERVER_ID, uint32Option(this.#offer.server)]);
    } else if (this.#remembered !== undefined) {
      options.push([DhcpOption.REQUESTED_ADDRESS, uint32Option(this.#remembered)]);
    }
    this.counters.requestsSent++;
    if (this.#attempt > 0) this.counters.retransmissions++;
    void this.#send(
      "255.255.255.255",
      this.#message(DhcpMessageType.REQUEST, { flags: DHCP_FLAG_BROADCAST, options }),
    );
    this.#after(this.#backoff(this.#attempt++), () => this.#sendRequest());
  }

  #onOffer(message: DhcpMessage): void {
    if (this.#state !== "selecting") {
      this.counters.rxIgnored++;
      return;
    }
    const server = optionUint32(message.options, DhcpOption.SERVER_ID);
    if (!usableAddress(message.yiaddr) || server === undefined || !usableAddress(server)) {
      this.counters.rxMalformed++;
      return;
    }
    this.counters.offersReceived++;
    // The first acceptable offer wins (RFC 2131 §4.4.1 lets the client choose).
    this.#offer = { address: message.yiaddr, server };
    this.#state = "requesting";
    this.#attempt = 0;
    this.#requestSentAt = this.#host.clock.now();
    this.#host.log.debug("offer", {
      address: formatIpv4(message.yiaddr),
      server: formatIpv4(server),
    });
    this.#sendRequest();
  }

  #onAck(message: DhcpMessage, source: string): void {
    const state = this.#state;
    if (!awaitsReply(state)) {
      this.counters.rxIgnored++;
      return;
    }
    const serverId = optionUint32(message.options, DhcpOption.SERVER_ID);
    if (state === "requesting" && serverId !== undefined && serverId !== this.#offer?.server) {
      this.counters.rxIgnored++;
      return;
    }
    const known = state === "requesting" ? this.#offer?.server : this.#binding?.server;
    const server = serverId ?? known ?? parseIpv4(source);
    const binding = server === undefined ? undefined : this.#bindingFrom(message, server);
    if (binding === undefined) {
      this.counters.rxMalformed++;
      return;
    }
    this.counters.acksReceived++;
    this.#cancelTimer();
    if (state === "renewing" || state === "rebinding") {
      if (binding.address === this.#binding?.address) {
        if (state === "renewing") this.counters.renewals++;
        else this.counters.rebinds++;
        this.#bind(binding);
        return;
      }
      // A different address in answer to a renewal: the old one is gone; check the new one.
      this.#unbind();
    }
    this.#verify(binding);
  }

  #onNak(message: DhcpMessage): void {
    const state = this.#state;
    if (!awaitsReply(state)) {
      this.counters.rxIgnored++;
      return;
    }
    const serverId = optionUint32(message.options, DhcpOption.SERVER_ID);
    const expected =
      state === "requesting"
        ? this.#offer?.server
        : state === "renewing"
          ? this.#binding?.server
          : undefined;
    if (serverId !== undefined && expected !== undefined && serverId !== expected) {
      this.counters.rxIgnored++;
      return;
    }
    this.counters.naksReceived++;
    const text = message.options.get(DhcpOption.MESSAGE);
    this.#host.log.info("DHCPNAK", {
      state,
      ...(text === undefined ? {} : { message: printable(text) }),
    });
    this.#cancelTimers();
    this.#unbind();
    this.#remembered = undefined;
    // RFC 2131 §3.1.4: start over. Repeated NAKs back off so a confused server cannot cause a storm.
    this.#naks++;
    this.#state = "init";
    const delay = this.#naks <= 1 ? 0 : Math.min(64, 2 ** (this.#naks - 2)) * SECOND;
    this.#after(delay, () => this.#discover());
  }

  /** PROBING (RFC 5227 §2.1.1): ARP probes for the address; a quiet link binds it, an answer declines it. */
  #verify(binding: Binding): void {
    const probe = this.#probe;
    if (probe === undefined) {
      this.#bind(binding);
      return;
    }
    this.#state = "probing";
    this.#candidate = binding;
    this.#probesSent = 0;
    const step = () => {
      if (this.#probesSent >= probe.probes) {
        this.#candidate = undefined;
        this.#bind(binding);
        return;
      }
      this.#host.probe(binding.address);
      this.#probesSent++;
      const last = this.#probesSent >= probe.probes;
      const wait = last
        ? probe.announceWaitNs
        : probe.minIntervalNs +
          this.#host.random.float() * (probe.maxIntervalNs - probe.minIntervalNs);
      this.#after(wait, step);
    };
    this.#after(this.#host.random.float() * probe.waitNs, step);
  }

  #observeArp(operation: number, _senderMac: Uint8Array, senderIp: number, targetIp: number): void {
    const candidate = this.#candidate;
    if (this.#state !== "probing" || candidate === undefined) return;
    // RFC 5227 §2.1.1: any ARP from the address, or another host's probe for it, is a conflict.
    // (The interface never shows us our own frames.)
    const conflict =
      senderIp === candidate.address ||
      (senderIp === 0 && targetIp === candidate.address && operation === ArpOperation.REQUEST);
    if (!conflict) return;
    this.counters.conflicts++;
    this.#host.log.warn("address in use on the link; declining it", {
      address: formatIpv4(candidate.address),
    });
    this.#cancelTimer();
    this.#candidate = undefined;
    this.#remembered = undefined;
    this.counters.declinesSent++;
    void this.#send(
      "255.255.255.255",
      this.#message(DhcpMessageType.DECLINE, {
        options: [
          [DhcpOption.REQUESTED_ADDRESS, uint32Option(candidate.address)],
          [DhcpOption.SERVER_ID, uint32Option(candidate.server)],
        ],
        parameters: false,
      }),
    );
    this.#state = "init";
    this.#after(this.#options.declineDelayNs ?? 10 * SECOND, () => this.#discover());
  }

  /** BOUND: the lease is in use; the timer runs to T1. */
  #bind(binding: Binding): void {
    const first = this.#binding === undefined;
    this.#binding = binding;
    this.#remembered = binding.address;
    this.#offer = undefined;
    this.#naks = 0;
    this.#state = "bound";
    if (first) this.counters.leasesBound++;
    this.#lease = toLease(binding);
    this.#host.log.info(first ? "bound" : "renewed", {
      address: `${formatIpv4(binding.address)}/${binding.prefixLength}`,
      server: formatIpv4(binding.server),
      leaseSeconds: binding.leaseNs / SECOND,
    });
    this.#host.apply(this.#lease);
    this.#armLease();
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w.resolve(this.#lease);
  }

  /** Removes the address, if one is in use. */
  #unbind(): void {
    if (this.#binding === undefined) return;
    this.#binding = undefined;
    this.#lease = undefined;
    this.#host.apply(undefined);
  }

  /** Arms the lease timer for the next deadline of the current state: T1, T2 or expiry. */
  #armLease(): void {
    this.#leaseTimer?.cancel();
    this.#leaseTimer = undefined;
    const b = this.#binding;
    if (b === undefined || b.leaseNs === Number.POSITIVE_INFINITY) return;
    const deadline =
      this.#state === "bound"
        ? b.since + b.renewalNs
        : this.#state === "renewing"
          ? b.since + b.rebindingNs
          : b.since + b.leaseNs;
    this.#leaseTimer = this.#host.time.setTimer(
      Math.max(0, deadline - this.#host.clock.now()),
      () => {
        this.#leaseTimer = undefined;
        this.#guard(() => this.#leaseDeadline());
      },
    );
  }

  #leaseDeadline(): void {
    const b = this.#binding;
    if (b === undefined) return;
    const now = this.#host.clock.now();
    if (now >= b.since + b.leaseNs) {
      this.#expire();
    } else if (
      now >= b.since + b.rebindingNs &&
      (this.#state === "bound" || this.#state === "renewing")
    ) {
      this.#extend("rebinding");
    } else if (now >= b.since + b.renewalNs && this.#state === "bound") {
      this.#extend("renewing");
    } else {
      this.#armLease();
    }
  }

  /** RENEWING (unicast to the server) or REBINDING (broadcast to any server), from T1 or T2. */
  #extend(state: "renewing" | "rebinding"): void {
    this.#cancelTimer();
    this.#state = state;
    this.#xid = this.#host.random.uint32();
    this.#startedAt = this.#host.clock.now();
    this.#requestSentAt = this.#startedAt;
    this.#attempt = 0;
    this.#armLease();
    this.#host.log.debug(state);
    this.#sendExtension();
  }

  #sendExtension(): void {
    const b = this.#binding;
    if (b === undefined) return;
    const renewing = this.#state === "renewing";
    this.counters.requestsSent++;
    if (this.#attempt++ > 0) this.counters.retransmissions++;
    void this.#send(
      renewing ? formatIpv4(b.server) : "255.255.255.255",
      this.#message(DhcpMessageType.REQUEST, { ciaddr: b.address }),
    );
    // RFC 2131 §4.4.5: half the time left to T2 (renewing) or to expiry (rebinding), at least 60 s.
    const now = this.#host.clock.now();
    const end = b.since + (renewing ? b.rebindingNs : b.leaseNs);
    const wait = Math.max(this.#options.renewRetransmitMinNs ?? 60 * SECOND, (end - now) / 2);
    if (now + wait < end) this.#after(wait, () => this.#sendExtension());
  }

  /** The lease ran out: the address goes, and acquisition starts again (asking for the same address). */
  #expire(): void {
    this.counters.expiries++;
    this.#host.log.warn("lease expired", {
      address: this.#binding === undefined ? undefined : formatIpv4(this.#binding.address),
    });
    this.#cancelTimers();
    this.#unbind();
    this.#discover();
  }

  // ---- receiving ---------------------------------------------------------------------------

  #receive(datagram: UdpDatagram): void {
    this.#guard(() => {
      const parsed = parseDhcp(datagram.data);
      if (parsed.problem !== DhcpProblem.OK) {
        this.counters.rxMalformed++;
        return;
      }
      const message = parsed.message;
      if (
        message.op !== BootpOp.REPLY ||
        message.xid !== this.#xid ||
        !sameMac(message.chaddr, this.#host.mac)
      ) {
        this.counters.rxIgnored++;
        return;
      }
      switch (message.type) {
        case DhcpMessageType.OFFER:
          this.#onOffer(message);
          return;
        case DhcpMessageType.ACK:
          this.#onAck(message, datagram.srcAddress);
          return;
        case DhcpMessageType.NAK:
          this.#onNak(message);
          return;
        default:
          this.counters.rxIgnored++;
      }
    });
  }

  /** The lease an ACK grants, or undefined when its content is unusable. */
  #bindingFrom(message: DhcpMessage, server: number): Binding | undefined {
    const o = message.options;
    const address = message.yiaddr;
    if (!usableAddress(address) || !usableAddress(server)) return undefined;
    const leaseSeconds = optionUint32(o, DhcpOption.LEASE_TIME);
    if (leaseSeconds === undefined || leaseSeconds === 0) return undefined;
    let prefixLength = classfulPrefix(address);
    const mask = optionUint32(o, DhcpOption.SUBNET_MASK);
    if (mask !== undefined) {
      const length = maskPrefixLength(mask);
      if (length === undefined || length === 0) return undefined;
      prefixLength = length;
    }
    const netmask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
    // The first router on our subnet: one we cannot reach directly is of no use as a next hop.
    const gateway = (optionAddresses(o, DhcpOption.ROUTER) ?? []).find(
      (r) => usableAddress(r) && r !== address && ((r ^ address) & netmask) === 0,
    );
    const dnsServers = (optionAddresses(o, DhcpOption.DNS_SERVERS) ?? []).filter(usableAddress);
    const mtuOption = optionUint16(o, DhcpOption.INTERFACE_MTU);
    const mtu = mtuOption !== undefined && mtuOption >= 68 ? mtuOption : undefined;

    let leaseNs: number;
    let renewalNs: number;
    let rebindingNs: number;
    if (leaseSeconds === INFINITE_LEASE) {
      leaseNs = renewalNs = rebindingNs = Number.POSITIVE_INFINITY;
    } else {
      leaseNs = leaseSeconds * SECOND;
      // RFC 2131 §4.4.5: T1 and T2 default to 0.5 and 0.875 of the lease; given ones must fit T1 ≤ T2 < lease.
      const t1 = optionUint32(o, DhcpOption.RENEWAL_TIME);
      const t2 = optionUint32(o, DhcpOption.REBINDING_TIME);
      rebindingNs = t2 !== undefined && t2 < leaseSeconds ? t2 * SECOND : leaseNs * 0.875;
      renewalNs =
        t1 !== undefined && t1 * SECOND <= rebindingNs
          ? t1 * SECOND
          : Math.min(leaseNs * 0.5, rebindingNs);
    }
    return {
      address,
      prefixLength,
      gateway,
      dnsServers,
      server,
      mtu,
      leaseNs,
      renewalNs,
      rebindingNs,
      since: this.#requestSentAt,
    };
  }

  // ---- sending -----------------------------------------------------------------------------

  #message(
    type: DhcpMessageType,
    fields: {
      readonly flags?: number;
      readonly ciaddr?: number;
      readonly options?: ReadonlyArray<readonly [number, Uint8Array]>;
      /** Parameter request list, max size and host name (not in DECLINE or RELEASE). */
      readonly parameters?: boolean;
    },
  ): Uint8Array {
    const options: Array<readonly [number, Uint8Array]> = [...(fields.options ?? [])];
    options.push([DhcpOption.CLIENT_ID, this.#clientId]);
    const decline = type === DhcpMessageType.DECLINE || type === DhcpMessageType.RELEASE;
    if (fields.parameters !== false) {
      options.push([DhcpOption.PARAMETER_REQUEST_LIST, PARAMETERS]);
      options.push([
        DhcpOption.MAX_MESSAGE_SIZE,
        uint16Option(Math.max(576, Math.min(this.#host.mtu, 65535))),
      ]);
      const name = this.#options.hostname;
      if (name !== undefined && name.length > 0)
        options.push([DhcpOption.HOST_NAME, new TextEncoder().encode(name).subarray(0, 255)]);
    }
    const secs = decline
      ? 0
      : Math.min(0xffff, Math.floor((this.#host.clock.now() - this.#startedAt) / SECOND));
    return emitDhcp({
      op: BootpOp.REQUEST,
      xid: this.#xid,
      secs,
      flags: fields.flags ?? 0,
      ciaddr: fields.ciaddr ?? 0,
      chaddr: this.#host.mac,
      type,
      options,
    });
  }

  #send(address: string, message: Uint8Array): Promise<void> {
    return this.#host.send(address, message).catch((error: unknown) => {
      this.counters.sendErrors++;
      this.#host.log.debug("a DHCP message was not sent", { address, error });
    });
  }

  /** RFC 2131 §4.1: 4 s, 8 s, ... up to 64 s, each moved by a random amount within ±1 s. */
  #backoff(attempt: number): number {
    const base = Math.min(
      this.#options.maxRetransmitNs ?? 64 * SECOND,
      (this.#options.retransmitNs ?? 4 * SECOND) * 2 ** Math.min(attempt, 30),
    );
    const jitter = this.#options.retransmitJitterNs ?? SECOND;
    return Math.max(0, base + (this.#host.random.float() * 2 - 1) * jitter);
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Replaces the state timer (retransmissions, probes, waits). */
  #after(ns: number, callback: () => void): void {
    this.#timer?.cancel();
    this.#timer = this.#host.time.setTimer(ns, () => {
      this.#timer = undefined;
      this.#guard(callback);
    });
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #cancelTimers(): void {
    this.#cancelTimer();
    this.#leaseTimer?.cancel();
    this.#leaseTimer = undefined;
  }

  /** Runs `work`, catching what it throws: nothing escapes into the stack's receive path or a timer. */
  #guard(work: () => void): void {
    if (this.#state === "stopped") return;
    try {
      work();
    } catch (error) {
      this.counters.internalErrors++;
      this.#host.log.error("DHCP client error", { error });
    }
  }
}

function toLease(b: Binding): DhcpLease {
  return {
    address: formatIpv4(b.address),
    prefixLength: b.prefixLength,
    gateway: b.gateway === undefined ? undefined : formatIpv4(b.gateway),
    dnsServers: b.dnsServers.map(formatIpv4),
    server: formatIpv4(b.server),
    mtu: b.mtu,
    leaseTimeNs: b.leaseNs,
    renewalTimeNs: b.renewalNs,
    rebindingTimeNs: b.rebindingNs,
    boundAt: b.since,
  };
}

/** A unicast host address: not 0.x, loopback, multicast, class E or broadcast. */
function usableAddress(address: number): boolean {
  const first = address >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** RFC 2131 leaves the mask to the server; without one, the address's class decides (RFC 1122 §3.3.1.1). */
function classfulPrefix(address: number): number {
  const first = address >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

function sameMac(chaddr: Uint8Array, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (chaddr[i] !== mac[i]) return false;
  return true;
}

function printable(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes.subarray(0, 200))
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?";
  return out;
}
