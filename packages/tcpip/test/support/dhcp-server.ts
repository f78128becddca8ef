// A scripted DHCP server for the client's tests: raw frames on one port of
// the memory switch (no stack of its own, so it sees and can send anything).
// By default it behaves like a small RFC 2131 server with an address pool;
// `policy` decides per message whether it answers, stays silent or NAKs, and
// `inject` sends arbitrary bytes to the client's port 68. It also answers
// ARP for its own address and for any address in `claims` (a host that
// already uses an address, for conflict tests), and records everything.

import { formatIpv4 } from "@atoll/core";
import type { Netif } from "@atoll/netif";
import {
  BootpOp,
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOption,
  emitDhcp,
  optionUint32,
  parseDhcp,
  uint16Option,
  uint32Option,
} from "../../src/dhcp/wire.js";
import {
  ArpOperation,
  arpOperation,
  arpSenderIp,
  arpTargetIp,
  checkArp,
  emitArpPacket,
} from "../../src/wire/arp.js";
import { BROADCAST_MAC, EtherType, emitEthernetHeader } from "../../src/wire/ethernet.js";
import {
  checkIpv4,
  emitIpv4Header,
  IpProtocol,
  Ipv4Problem,
  ipv4Destination,
  ipv4HeaderLength,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
} from "../../src/wire/ipv4.js";
import { emitUdpHeader, udpDestinationPort, udpSourcePort } from "../../src/wire/udp.js";
import { ip } from "./frames.js";

export interface SeenMessage {
  readonly message: DhcpMessage;
  /** Virtual time it arrived. */
  readonly at: number;
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly broadcastMac: boolean;
}

export interface SeenArp {
  readonly at: number;
  readonly operation: number;
  readonly senderIp: number;
  readonly targetIp: number;
}

export interface ScriptedServerOptions {
  readonly address?: string;
  readonly mac?: Uint8Array;
  /** Addresses offered, first free one first. */
  readonly pool?: readonly string[];
  readonly leaseSeconds?: number;
  readonly renewalSeconds?: number;
  readonly rebindingSeconds?: number;
  readonly mask?: string;
  readonly routers?: readonly string[];
  readonly dns?: readonly string[];
  readonly mtu?: number;
}

export type Policy = "answer" | "ignore" | "nak";

export class ScriptedDhcpServer {
  readonly address: number;
  readonly mac: Uint8Array;
  readonly seen: SeenMessage[] = [];
  readonly arps: SeenArp[] = [];
  /** Addresses this port claims in ARP (answers requests and probes for them). */
  readonly claims = new Set<number>();
  readonly declined = new Set<number>();
  readonly released: number[] = [];
  /** Decides what to do with each message (default: answer). */
  policy: (message: DhcpMessage, seen: SeenMessage) => Policy = () => "answer";
  options: ScriptedServerOptions;
  readonly #bindings = new Map<string, number>();
  readonly #netif: Netif;
  readonly #now: () => number;

  constructor(netif: Netif, now: () => number, options: ScriptedServerOptions = {}) {
    this.#netif = netif;
    this.#now = now;
    this.options = options;
    this.address = ip(options.address ?? "10.0.0.1");
    this.mac = options.mac ?? netif.mac;
    netif.listen((frame) => this.#receive(frame));
  }

  /** Messages of one type, in order. */
  messages(type: DhcpMessageType): SeenMessage[] {
    return this.seen.filter((s) => s.message.type === type);
  }

  get last(): SeenMessage | undefined {
    return this.seen.at(-1);
  }

  /** Sends `payload` as a UDP datagram from port 67 to the client's port 68 (broadcast by default). */
  inject(
    payload: Uint8Array,
    to: { dstIp?: number; dstMac?: Uint8Array; srcIp?: number; srcPort?: number } = {},
  ): void {
    const frame = new Uint8Array(14 + 20 + 8 + payload.length);
    const dstIp = to.dstIp ?? 0xffffffff;
    const srcIp = to.srcIp ?? this.address;
    emitEthernetHeader(frame, 0, to.dstMac ?? BROADCAST_MAC, this.mac, EtherType.IPV4);
    frame.set(payload, 42);
    emitUdpHeader(
      frame,
      34,
      to.srcPort ?? DHCP_SERVER_PORT,
      DHCP_CLIENT_PORT,
      payload.length,
      srcIp,
      dstIp,
    );
    emitIpv4Header(
      frame,
      14,
      srcIp,
      dstIp,
      IpProtocol.UDP,
      8 + payload.length,
      1,
      64,
      false,
      false,
      0,
    );
    this.#netif.write(frame);
  }

  /** A reply of `type` to `request`, with the server's options for `address`. */
  reply(
    request: DhcpMessage,
    type: DhcpMessageType,
    address: number,
    extra: ReadonlyArray<readonly [number, Uint8Array]> = [],
  ): Uint8Array {
    const o = this.options;
    const options: Array<readonly [number, Uint8Array]> = [
      [DhcpOption.SERVER_ID, uint32Option(this.address)],
    ];
    if (type !== DhcpMessageType.NAK) {
      options.push([DhcpOption.LEASE_TIME, uint32Option(o.leaseSeconds ?? 3600)]);
      if (o.renewalSeconds !== undefined)
        options.push([DhcpOption.RENEWAL_TIME, uint32Option(o.renewalSeconds)]);
      if (o.rebindingSeconds !== undefined)
        options.push([DhcpOption.REBINDING_TIME, uint32Option(o.rebindingSeconds)]);
      options.push([DhcpOption.SUBNET_MASK, uint32Option(ip(o.mask ?? "255.255.255.0"))]);
      const routers = o.routers ?? ["10.0.0.1"];
      if (routers.length > 0) options.push([DhcpOption.ROUTER, addresses(routers)]);
      const dns = o.dns ?? ["10.0.0.53", "10.0.0.54"];
      if (dns.length > 0) options.push([DhcpOption.DNS_SERVERS, addresses(dns)]);
      if (o.mtu !== undefined) options.push([DhcpOption.INTERFACE_MTU, uint16Option(o.mtu)]);
    }
    options.push(...extra);
    return emitDhcp({
      op: BootpOp.REPLY,
      xid: request.xid,
      flags: request.flags,
      yiaddr: type === DhcpMessageType.NAK ? 0 : address,
      siaddr: this.address,
      chaddr: request.chaddr,
      type,
      options,
    });
  }

  /** Sends a reply where RFC 2131 §4.1 says: to ciaddr, else broadcast (flag set), else to yiaddr. */
  send(request: DhcpMessage, payload: Uint8Array, nak = false): void {
    const yiaddr =
      ((payload[16]! << 24) | (payload[17]! << 16) | (payload[18]! << 8) | payload[19]!) >>> 0;
    if (request.ciaddr !== 0 && !nak)
      this.inject(payload, { dstIp: request.ciaddr, dstMac: request.chaddr });
    else if ((request.flags & DHCP_FLAG_BROADCAST) !== 0 || nak) this.inject(payload);
    else this.inject(payload, { dstIp: yiaddr, dstMac: request.chaddr });
  }

  /** The address bound to a client, if any. */
  boundTo(mac: Uint8Array): number | undefined {
    return this.#bindings.get(key(mac));
  }

  #receive(frame: Uint8Array): void {
    const type = (frame[12]! << 8) | frame[13]!;
    if (type === EtherType.ARP) {
      this.#arp(frame);
      return;
    }
    if (type !== EtherType.IPV4) return;
    if (checkIpv4(frame, 14, frame.length - 14) !== Ipv4Problem.OK) return;
    if (ipv4Protocol(frame, 14) !== IpProtocol.UDP) return;
    const udp = 14 + ipv4HeaderLength(frame, 14);
    if (udpDestinationPort(frame, udp) !== DHCP_SERVER_PORT) return;
    const end = 14 + ipv4TotalLength(frame, 14);
    const parsed = parseDhcp(frame.slice(udp + 8, end));
    if (parsed.message === undefined) return;
    const seen: SeenMessage = {
      message: parsed.message,
      at: this.#now(),
      srcIp: ipv4Source(frame, 14),
      dstIp: ipv4Destination(frame, 14),
      srcPort: udpSourcePort(frame, udp),
      dstPort: DHCP_SERVER_PORT,
      broadcastMac: frame[0] === 0xff && frame[5] === 0xff,
    };
    this.seen.push(seen);
    const decision = this.policy(parsed.message, seen);
    if (decision === "ignore") return;
    this.#serve(parsed.message, decision === "nak");
  }

  #serve(m: DhcpMessage, nak: boolean): void {
    const client = key(m.chaddr);
    const requested = optionUint32(m.options, DhcpOption.REQUESTED_ADDRESS);
    switch (m.type) {
      case DhcpMessageType.DISCOVER: {
        const address = this.#choose(client, requested);
        if (address === undefined) return;
        this.send(m, this.reply(m, DhcpMessageType.OFFER, address));
        return;
      }
      case DhcpMessageType.REQUEST: {
        const serverId = optionUint32(m.options, DhcpOption.SERVER_ID);
        if (serverId !== undefined && serverId !== this.address) {
          this.#bindings.delete(client);
          return;
        }
        const wanted = requested ?? m.ciaddr;
        const holder = [...this.#bindings].find(([, a]) => a === wanted)?.[0];
        const ok =
          !nak &&
          this.#inPool(wanted) &&
          !this.declined.has(wanted) &&
          (holder === undefined || holder === client);
        if (!ok) {
          this.send(m, this.reply(m, DhcpMessageType.NAK, 0), true);
          return;
        }
        this.#bindings.set(client, wanted);
        this.send(m, this.reply(m, DhcpMessageType.ACK, wanted));
        return;
      }
      case DhcpMessageType.DECLINE:
        if (requested !== undefined) this.declined.add(requested);
        this.#bindings.delete(client);
        return;
      case DhcpMessageType.RELEASE:
        this.released.push(m.ciaddr);
        this.#bindings.delete(client);
        return;
    }
  }

  #pool(): number[] {
    return (this.options.pool ?? ["10.0.0.100", "10.0.0.101", "10.0.0.102"]).map(ip);
  }

  #inPool(address: number): boolean {
    return this.#pool().includes(address);
  }

  #choose(client: string, requested: number | undefined): number | undefined {
    const mine = this.#bindings.get(client);
    if (mine !== undefined && !this.declined.has(mine)) return mine;
    const taken = new Set(this.#bindings.values());
    const free = (a: number) => this.#inPool(a) && !taken.has(a) && !this.declined.has(a);
    if (requested !== undefined && free(requested)) return requested;
    return this.#pool().find(free);
  }

  #arp(frame: Uint8Array): void {
    if (checkArp(frame, 14, frame.length - 14) !== 0) return;
    const operation = arpOperation(frame, 14);
    const senderIp = arpSenderIp(frame, 14);
    const targetIp = arpTargetIp(frame, 14);
    this.arps.push({ at: this.#now(), operation, senderIp, targetIp });
    if (operation !== ArpOperation.REQUEST) return;
    if (targetIp !== this.address && !this.claims.has(targetIp)) return;
    const senderMac = frame.slice(22, 28);
    const reply = new Uint8Array(42);
    emitEthernetHeader(reply, 0, senderMac, this.mac, EtherType.ARP);
    // A probe (sender 0.0.0.0) is answered too: that is how a host in the way shows itself.
    emitArpPacket(reply, 14, ArpOperation.REPLY, this.mac, targetIp, senderMac, senderIp);
    this.#netif.write(reply);
  }
}

function key(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

function addresses(list: readonly string[]): Uint8Array {
  const out = new Uint8Array(list.length * 4);
  list.forEach((a, i) => {
    out.set(uint32Option(ip(a)), i * 4);
  });
  return out;
}

export const fmt = formatIpv4;
