// ICMPv4 on the interface (RFC 792, RFC 1122 §3.2.2): answers echo requests,
// matches echo replies to pings, turns received errors into notifications
// for TCP (and failed pings), and sends errors — port and protocol
// unreachable, reassembly time exceeded — with the rules that keep a host
// from amplifying (never about an ICMP error, a broadcast, a non-first
// fragment or a source that names no single host) and a token-bucket limit
// (RFC 1812 §4.3.2.8).

import type { Timer } from "@atoll/clock";
import { AbortedError, AtollError, DisconnectedError, parseIpv4 } from "@atoll/core";
import { NetworkTimeoutError, NetworkUnreachableError } from "../errors.js";
import type { PingOptions, PingResult } from "../signature.js";
import {
  checkIcmp,
  emitIcmpHeader,
  fillIcmpChecksum,
  ICMP_HEADER_LENGTH,
  IcmpProblem,
  IcmpType,
  icmpCode,
  icmpEchoIdentifier,
  icmpEchoSequence,
  icmpNextHopMtu,
  icmpType,
  TimeExceededCode,
  UnreachableCode,
} from "../wire/icmpv4.js";
import {
  IPV4_BROADCAST,
  IPV4_HEADER_LENGTH,
  IpProtocol,
  ipv4Destination,
  ipv4FragmentOffset,
  ipv4HeaderLength,
  ipv4Protocol,
  ipv4Source,
  ipv4Ttl,
  isLoopbackIpv4,
  isMulticastIpv4,
  isReservedIpv4,
} from "../wire/ipv4.js";
import type { EthernetInterface } from "./interface.js";
import { HEADROOM, SendResult } from "./send.js";

export interface IcmpOptions {
  /** ICMP errors sent per second, sustained (default 1000). */
  readonly errorsPerSecond?: number;
  /** Errors that may be sent in a burst (default 50). */
  readonly errorBurst?: number;
  /** Answer echo requests sent to a broadcast address (default false, like Linux). */
  readonly answerBroadcastEcho?: boolean;
}

export interface IcmpCounters {
  rxMessages: number;
  /** Truncated or bad checksum. */
  rxErrors: number;
  echoRequestsReceived: number;
  echoRepliesSent: number;
  echoRequestsSent: number;
  echoRepliesReceived: number;
  /** Destination unreachable, time exceeded and parameter problem messages received. */
  errorsReceived: number;
  errorsSent: number;
  errorsRateLimited: number;
  /** Messages of types we do not handle (redirects, timestamps, ...). */
  ignored: number;
}

interface PendingPing {
  readonly address: string;
  readonly destination: number;
  readonly sentAt: number;
  readonly resolve: (result: PingResult) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: Timer;
  readonly cleanup: () => void;
}

/** The most an ICMP error quotes of the offending datagram (RFC 1812: fit in 576 bytes). */
const MAX_QUOTE = 576 - IPV4_HEADER_LENGTH - ICMP_HEADER_LENGTH;

export class IcmpEndpoint {
  readonly counters: IcmpCounters = {
    rxMessages: 0,
    rxErrors: 0,
    echoRequestsReceived: 0,
    echoRepliesSent: 0,
    echoRequestsSent: 0,
    echoRepliesReceived: 0,
    errorsReceived: 0,
    errorsSent: 0,
    errorsRateLimited: 0,
    ignored: 0,
  };
  readonly #iface: EthernetInterface;
  readonly #pings = new Map<number, PendingPing>();
  readonly #identifier: number;
  #sequence = 0;
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #tokensAt: number;
  readonly #answerBroadcast: boolean;

  constructor(iface: EthernetInterface, options: IcmpOptions = {}) {
    this.#iface = iface;
    this.#identifier = iface.random.int(0x10000);
    this.#rate = options.errorsPerSecond ?? 1000;
    this.#burst = options.errorBurst ?? 50;
    this.#tokens = this.#burst;
    this.#tokensAt = iface.clock.now();
    this.#answerBroadcast = options.answerBroadcastEcho ?? false;
  }

  // ---- receiving ---------------------------------------------------------------------------------

  receive(
    packet: Uint8Array,
    ip: number,
    headerLength: number,
    total: number,
    broadcast: boolean,
  ): void {
    const c = this.counters;
    const at = ip + headerLength;
    const length = total - headerLength;
    c.rxMessages++;
    if (checkIcmp(packet, at, length) !== IcmpProblem.OK) {
      c.rxErrors++;
      this.#iface.counters.ipv4.rxDropped++;
      return;
    }
    switch (icmpType(packet, at)) {
      case IcmpType.ECHO_REQUEST:
        c.echoRequestsReceived++;
        if (broadcast && !this.#answerBroadcast) return;
        this.#reply(packet, ip, at, length, broadcast);
        return;
      case IcmpType.ECHO_REPLY:
        this.#echoReply(packet, ip, at, length);
        return;
      case IcmpType.DESTINATION_UNREACHABLE:
      case IcmpType.TIME_EXCEEDED:
      case IcmpType.PARAMETER_PROBLEM:
        c.errorsReceived++;
        this.#error(packet, at, length);
        return;
      default:
        c.ignored++;
    }
  }

  #reply(packet: Uint8Array, ip: number, at: number, length: number, broadcast: boolean): void {
    const iface = this.#iface;
    const out = iface.scratch;
    out.set(packet.subarray(at, at + length), HEADROOM);
    out[HEADROOM] = IcmpType.ECHO_REPLY;
    out[HEADROOM + 1] = 0;
    fillIcmpChecksum(out, HEADROOM, length);
    const to = ipv4Source(packet, ip);
    const from = broadcast ? iface.address : ipv4Destination(packet, ip);
    const r = iface.sendIp(
      to,
      IpProtocol.ICMP,
      out,
      HEADROOM,
      length,
      iface.ttl,
      false,
      undefined,
      false,
      from,
    );
    if (r === SendResult.SENT || r === SendResult.QUEUED) this.counters.echoRepliesSent++;
  }

  #echoReply(packet: Uint8Array, ip: number, at: number, length: number): void {
    const key = (icmpEchoIdentifier(packet, at) << 16) | icmpEchoSequence(packet, at);
    const ping = this.#pings.get(key);
    if (ping === undefined || icmpEchoIdentifier(packet, at) !== this.#identifier) {
      this.counters.ignored++;
      return;
    }
    if (ping.destination !== ipv4Source(packet, ip)) {
      this.counters.ignored++;
      return;
    }
    this.counters.echoRepliesReceived++;
    this.#pings.delete(key);
    ping.cleanup();
    ping.resolve({
      address: ping.address,
      rttNs: this.#iface.clock.now() - ping.sentAt,
      ttl: ipv4Ttl(packet, ip),
      bytes: length,
    });
  }

  /** An error quoting one of our datagrams: the quoted header must be plausible and come from us. */
  #error(packet: Uint8Array, at: number, length: number): void {
    const quoted = at + ICMP_HEADER_LENGTH;
    const quotedLength = length - ICMP_HEADER_LENGTH;
    if (quotedLength < IPV4_HEADER_LENGTH + 8 || packet[quoted]! >>> 4 !== 4) {
      this.counters.rxErrors++;
      return;
    }
    const headerLength = ipv4HeaderLength(packet, quoted);
    if (headerLength < IPV4_HEADER_LENGTH || headerLength + 8 > quotedLength) {
      this.counters.rxErrors++;
      return;
    }
    const source = ipv4Source(packet, quoted);
    const destination = ipv4Destination(packet, quoted);
    const payload = quoted + headerLength;
    const type = icmpType(packet, at);
    const code = icmpCode(packet, at);
    const protocol = ipv4Protocol(packet, quoted);
    if (protocol === IpProtocol.TCP) {
      const tcp = this.#iface.tcpUpper;
      if (tcp?.icmpError === undefined) return;
      if (type === IcmpType.DESTINATION_UNREACHABLE) {
        const kind =
          code === UnreachableCode.FRAGMENTATION_NEEDED
            ? "frag-needed"
            : code === UnreachableCode.PORT || code === UnreachableCode.PROTOCOL
              ? "port-unreachable"
              : "unreachable";
        const mtu = icmpNextHopMtu(packet, at);
        const segment = packet.subarray(payload, at + length);
        if (kind === "frag-needed" && mtu > 0)
          tcp.icmpError(source, destination, segment, kind, mtu);
        else tcp.icmpError(source, destination, segment, kind);
      }
      return;
    }
    if (
      protocol === IpProtocol.ICMP &&
      type === IcmpType.DESTINATION_UNREACHABLE &&
      packet[payload] === IcmpType.ECHO_REQUEST
    ) {
      const key = (icmpEchoIdentifier(packet, payload) << 16) | icmpEchoSequence(packet, payload);
      const ping = this.#pings.get(key);
      if (ping !== undefined && icmpEchoIdentifier(packet, payload) === this.#identifier) {
        this.#pings.delete(key);
        ping.cleanup();
        ping.reject(
          new NetworkUnreachableError(ping.address, `ICMP destination unreachable (code ${code})`),
        );
      }
    }
  }

  // ---- ping --------------------------------------------------------------------------------------

  ping(address: string, options: PingOptions = {}): Promise<PingResult> {
    const destination = parseIpv4(address);
    if (destination === undefined)
      return Promise.reject(new TypeError(`ping: not an IPv4 address: ${JSON.stringify(address)}`));
    const size = options.size ?? 56;
    if (!Number.isInteger(size) || size < 0 || size > 65507)
      return Promise.reject(new RangeError(`ping: size must be 0..65507, got ${size}`));
    const signal = options.signal;
    if (signal?.aborted)
      return Promise.reject(new AbortedError("ping aborted", { cause: signal.reason }));
    const iface = this.#iface;
    if (iface.closed) return Promise.reject(new DisconnectedError("stack"));
    if (iface.route(destination) === undefined) {
      iface.counters.ipv4.txNoRoute++;
      return Promise.reject(new NetworkUnreachableError(address));
    }

    let sequence = this.#sequence;
    const base = this.#identifier << 16;
    for (let tries = 0; this.#pings.has(base | sequence); tries++) {
      if (tries >= 0x10000)
        return Promise.reject(new AtollError("ATOLL_NET_BUSY", "too many pings in flight"));
      sequence = (sequence + 1) & 0xffff;
    }
    this.#sequence = (sequence + 1) & 0xffff;
    const key = base | sequence;

    return new Promise<PingResult>((resolve, reject) => {
      const onAbort = () => {
        if (this.#pings.get(key) !== pending) return;
        this.#pings.delete(key);
        pending.cleanup();
        reject(new AbortedError("ping aborted", { cause: signal?.reason }));
      };
      const timer = iface.time.setTimer(options.timeoutNs ?? 1e9, () => {
        if (this.#pings.get(key) !== pending) return;
        this.#pings.delete(key);
        signal?.removeEventListener("abort", onAbort);
        reject(new NetworkTimeoutError(`ping ${address}`));
      });
      const pending: PendingPing = {
        address,
        destination,
        sentAt: iface.clock.now(),
        resolve,
        reject,
        timer,
        cleanup: () => {
          timer.cancel();
          signal?.removeEventListener("abort", onAbort);
        },
      };
      this.#pings.set(key, pending);
      signal?.addEventListener("abort", onAbort, { once: true });

      const fail = (error: unknown) => {
        if (this.#pings.get(key) !== pending) return;
        this.#pings.delete(key);
        pending.cleanup();
        reject(error);
      };
      const out = iface.scratch;
      emitIcmpHeader(out, HEADROOM, IcmpType.ECHO_REQUEST, 0, (this.#identifier << 16) | sequence);
      for (let i = 0; i < size; i++) out[HEADROOM + ICMP_HEADER_LENGTH + i] = i & 0xff;
      fillIcmpChecksum(out, HEADROOM, ICMP_HEADER_LENGTH + size);
      this.counters.echoRequestsSent++;
      const sent = iface.sendIp(
        destination,
        IpProtocol.ICMP,
        out,
        HEADROOM,
        ICMP_HEADER_LENGTH + size,
        iface.ttl,
        false,
        (ok) => {
          if (!ok) fail(new NetworkUnreachableError(address, "no ARP reply"));
        },
        false,
      );
      if (sent === SendResult.NO_ROUTE) fail(new NetworkUnreachableError(address));
      else if (sent === SendResult.DROPPED)
        fail(new NetworkUnreachableError(address, "dropped by the link"));
    });
  }

  // ---- sending errors ----------------------------------------------------------------------------

  /** Port unreachable for a UDP datagram that no one listens for. */
  portUnreachable(packet: Uint8Array, ip: number, total: number): void {
    this.#sendError(IcmpType.DESTINATION_UNREACHABLE, UnreachableCode.PORT, packet, ip, total);
  }

  protocolUnreachable(packet: Uint8Array, ip: number, total: number): void {
    this.#sendError(IcmpType.DESTINATION_UNREACHABLE, UnreachableCode.PROTOCOL, packet, ip, total);
  }

  /** Time exceeded in reassembly, quoting the first fragment's header and 8 bytes (RFC 792). */
  reassemblyTimedOut(header: Uint8Array, firstBytes: Uint8Array): void {
    const packet = new Uint8Array(header.length + firstBytes.length);
    packet.set(header);
    packet.set(firstBytes, header.length);
    this.#sendError(IcmpType.TIME_EXCEEDED, TimeExceededCode.REASSEMBLY, packet, 0, packet.length);
  }

  #sendError(type: number, code: number, packet: Uint8Array, ip: number, total: number): void {
    const iface = this.#iface;
    const source = ipv4Source(packet, ip);
    const destination = ipv4Destination(packet, ip);
    // RFC 1122 §3.2.2: never about an ICMP error, a broadcast or multicast, a later fragment,
    // or a datagram whose source does not name one host.
    if (
      source === 0 ||
      source === IPV4_BROADCAST ||
      isMulticastIpv4(source) ||
      isReservedIpv4(source) ||
      (isLoopbackIpv4(source) && !isLoopbackIpv4(destination)) ||
      destination === IPV4_BROADCAST ||
      isMulticastIpv4(destination) ||
      destination === iface.subnetBroadcast ||
      ipv4FragmentOffset(packet, ip) !== 0
    )
      return;
    const headerLength = ipv4HeaderLength(packet, ip);
    if (ipv4Protocol(packet, ip) === IpProtocol.ICMP) {
      const quotedType = total > headerLength ? packet[ip + headerLength]! : -1;
      if (quotedType !== IcmpType.ECHO_REQUEST && quotedType !== IcmpType.ECHO_REPLY) return;
    }
    if (!this.#takeToken()) {
      this.counters.errorsRateLimited++;
      return;
    }
    const quote = Math.min(total, MAX_QUOTE);
    const out = iface.scratch;
    emitIcmpHeader(out, HEADROOM, type, code, 0);
    out.set(packet.subarray(ip, ip + quote), HEADROOM + ICMP_HEADER_LENGTH);
    fillIcmpChecksum(out, HEADROOM, ICMP_HEADER_LENGTH + quote);
    const r = iface.sendIp(
      source,
      IpProtocol.ICMP,
      out,
      HEADROOM,
      ICMP_HEADER_LENGTH + quote,
      iface.ttl,
      false,
      undefined,
      false,
      isLoopbackIpv4(destination) ? destination : iface.address,
    );
    if (r === SendResult.SENT || r === SendResult.QUEUED) this.counters.errorsSent++;
  }

  #takeToken(): boolean {
    const now = this.#iface.clock.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#tokensAt) * this.#rate) / 1e9,
    );
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Rejects pings in flight. */
  close(): void {
    for (const [key, ping] of [...this.#pings]) {
      this.#pings.delete(key);
      ping.cleanup();
      ping.reject(new DisconnectedError("stack"));
    }
  }

  /** Pings waiting for a reply. */
  get pingsInFlight(): number {
    return this.#pings.size;
  }

  /** The echo identifier this stack uses. */
  get identifier(): number {
    return this.#identifier;
  }
}
