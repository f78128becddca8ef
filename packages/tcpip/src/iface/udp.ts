// UDP on the interface (RFC 768, RFC 1122 §4.1): one listener per port,
// datagrams checked (length, checksum when present) before delivery, port
// unreachable for a unicast datagram to a port no one listens on, and
// sending with the checksum always computed.

import { DisconnectedError, formatIpv4, parseIpv4 } from "@atoll/core";
import { AddressInUseError, NetworkUnreachableError } from "../errors.js";
import type { UdpDatagram, UdpSendOptions } from "../signature.js";
import { IPV4_HEADER_LENGTH, IpProtocol, ipv4Destination, ipv4Source } from "../wire/ipv4.js";
import {
  checkUdp,
  emitUdpHeader,
  UDP_HEADER_LENGTH,
  UdpProblem,
  udpDestinationPort,
  udpLengthField,
  udpSourcePort,
} from "../wire/udp.js";
import type { EthernetInterface } from "./interface.js";
import { HEADROOM, SendResult } from "./send.js";

export interface UdpCounters {
  rxDatagrams: number;
  txDatagrams: number;
  /** Every received datagram not delivered: the three below, plus broadcasts to closed ports. */
  rxDropped: number;
  rxNoPort: number;
  rxChecksumErrors: number;
  /** Truncated, or a length field that does not fit the packet. */
  rxLengthErrors: number;
  /** Exceptions thrown by listeners (caught; the stack carries on). */
  listenerErrors: number;
}

/** The largest UDP payload in one IPv4 datagram. */
export const MAX_UDP_PAYLOAD = 65535 - IPV4_HEADER_LENGTH - UDP_HEADER_LENGTH;

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;

export class UdpEndpoint {
  readonly counters: UdpCounters = {
    rxDatagrams: 0,
    txDatagrams: 0,
    rxDropped: 0,
    rxNoPort: 0,
    rxChecksumErrors: 0,
    rxLengthErrors: 0,
    listenerErrors: 0,
  };
  readonly #iface: EthernetInterface;
  readonly #listeners = new Map<number, (datagram: UdpDatagram) => void>();
  readonly #internal = new Set<number>();

  constructor(iface: EthernetInterface) {
    this.#iface = iface;
  }

  /**
   * Delivers datagrams to `port`. An `internal` listener (the stack's own:
   * the DHCP client's port 68) never becomes the default source port of the
   * application's datagrams.
   */
  listen(
    port: number,
    listener: (datagram: UdpDatagram) => void,
    options: { readonly internal?: boolean } = {},
  ): void {
    checkPort(port, false);
    if (this.#iface.closed) throw new DisconnectedError("stack");
    if (this.#listeners.has(port)) throw new AddressInUseError(`UDP port ${port}`);
    this.#listeners.set(port, listener);
    if (options.internal === true) this.#internal.add(port);
  }

  unlisten(port: number): void {
    this.#listeners.delete(port);
    this.#internal.delete(port);
  }

  send(
    address: string,
    port: number,
    data: Uint8Array,
    options: UdpSendOptions = {},
  ): Promise<void> {
    const destination = parseIpv4(address);
    if (destination === undefined)
      return Promise.reject(
        new TypeError(`udp.send: not an IPv4 address: ${JSON.stringify(address)}`),
      );
    try {
      checkPort(port, false);
      if (options.srcPort !== undefined) checkPort(options.srcPort, false);
    } catch (error) {
      return Promise.reject(error);
    }
    if (data.length > MAX_UDP_PAYLOAD)
      return Promise.reject(
        new RangeError(
          `udp.send: ${data.length} bytes do not fit one datagram (max ${MAX_UDP_PAYLOAD})`,
        ),
      );
    const iface = this.#iface;
    if (iface.closed) return Promise.reject(new DisconnectedError("stack"));
    const route = iface.route(destination);
    if (route === undefined) {
      iface.counters.ipv4.txNoRoute++;
      return Promise.reject(new NetworkUnreachableError(address));
    }
    const sourcePort = options.srcPort ?? this.#defaultSourcePort();
    const out = iface.scratch;
    const at = HEADROOM;
    out.set(data, at + UDP_HEADER_LENGTH);
    emitUdpHeader(out, at, sourcePort, port, data.length, route.source, destination);
    // Settled only when the datagram waits for ARP: then the promise says whether it left.
    let waiting: { resolve(): void; reject(error: unknown): void } | undefined;
    const done = (sent: boolean) => {
      if (sent) waiting?.resolve();
      else waiting?.reject(new NetworkUnreachableError(address, "no ARP reply"));
    };
    const result = iface.sendIp(
      destination,
      IpProtocol.UDP,
      out,
      at,
      UDP_HEADER_LENGTH + data.length,
      options.ttl ?? iface.ttl,
      false,
      done,
      false,
      route.source,
    );
    if (result === SendResult.NO_ROUTE) return Promise.reject(new NetworkUnreachableError(address));
    this.counters.txDatagrams++;
    if (result === SendResult.QUEUED)
      return new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
      });
    // SENT, or DROPPED by a full link queue: lost like any datagram in a network, and counted.
    return Promise.resolve();
  }

  /** The first port the application listened on, so that replies come back to it; else a random ephemeral one. */
  #defaultSourcePort(): number {
    for (const port of this.#listeners.keys()) if (!this.#internal.has(port)) return port;
    for (;;) {
      const port = EPHEMERAL_FIRST + this.#iface.random.int(EPHEMERAL_COUNT);
      if (!this.#listeners.has(port)) return port;
    }
  }

  receive(
    packet: Uint8Array,
    ip: number,
    headerLength: number,
    total: number,
    broadcast: boolean,
  ): void {
    const c = this.counters;
    const at = ip + headerLength;
    const source = ipv4Source(packet, ip);
    const destination = ipv4Destination(packet, ip);
    const problem = checkUdp(packet, at, total - headerLength, source, destination);
    if (problem !== UdpProblem.OK) {
      if (problem === UdpProblem.BAD_CHECKSUM) c.rxChecksumErrors++;
      else c.rxLengthErrors++;
      c.rxDropped++;
      this.#iface.counters.ipv4.rxDropped++;
      return;
    }
    const port = udpDestinationPort(packet, at);
    const listener = this.#listeners.get(port);
    if (listener === undefined) {
      c.rxNoPort++;
      c.rxDropped++;
      if (!broadcast) this.#iface.icmp.portUnreachable(packet, ip, total);
      return;
    }
    c.rxDatagrams++;
    const length = udpLengthField(packet, at);
    try {
      listener({
        srcAddress: formatIpv4(source),
        srcPort: udpSourcePort(packet, at),
        dstAddress: formatIpv4(destination),
        dstPort: port,
        data: packet.subarray(at + UDP_HEADER_LENGTH, at + length),
      });
    } catch (error) {
      c.listenerErrors++;
      this.#iface.log.warn("a UDP listener threw", { port, error });
    }
  }

  close(): void {
    this.#listeners.clear();
    this.#internal.clear();
  }

  /** Ports listened on. */
  get ports(): number[] {
    return [...this.#listeners.keys()];
  }
}

function checkPort(port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535)
    throw new RangeError(`not a port number: ${port}`);
}
