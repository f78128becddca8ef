// The interface: one Netif, one IPv4 address. Receives frames (Ethernet →
// ARP | IPv4 → reassembly → ICMP | UDP | TCP), sends IPv4 datagrams (routing
// on-link or through the gateway, ARP resolution, fragmentation), and is the
// TcpLower that TCP builds its segments on, with headroom so the IPv4 and
// Ethernet headers are written in front of a segment without copying.
//
// Every received byte is untrusted: each layer checks its header once, counts
// and drops what is malformed, and the whole receive path is wrapped so that
// nothing thrown below ever escapes into the Netif driver.

import type { MonotonicClock, Time } from "@atoll/clock";
import { formatIpv4, type Logger, silentLogger } from "@atoll/core";
import type { Random } from "@atoll/entropy";
import type { Netif } from "@atoll/netif";
import type { TcpLower, TcpUpper } from "../tcp/lower.js";
import {
  ARP_PACKET_LENGTH,
  ARP_SENDER_MAC,
  ArpOperation,
  ArpProblem,
  arpOperation,
  arpSenderIp,
  arpTargetIp,
  checkArp,
  emitArpPacket,
} from "../wire/arp.js";
import { readUint32 } from "../wire/bytes.js";
import {
  BROADCAST_MAC,
  ETHERNET_HEADER_LENGTH,
  EtherType,
  emitEthernetHeader,
  ethernetType,
  isMulticastDestination,
  macEquals,
} from "../wire/ethernet.js";
import {
  checkIpv4,
  emitIpv4Header,
  emitIpv4HeaderView,
  IPV4_BROADCAST,
  IPV4_HEADER_LENGTH,
  IpProtocol,
  Ipv4Problem,
  ipv4Destination,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
  isLoopbackIpv4,
  isMulticastIpv4,
  isReservedIpv4,
  prefixMask,
} from "../wire/ipv4.js";
import {
  ArpCache,
  type ArpCache as ArpCacheType,
  type ArpOptions,
  type PendingFrame,
} from "./arp-cache.js";
import { IcmpEndpoint, type IcmpOptions } from "./icmp.js";
import { BufferPool } from "./pool.js";
import { Reassembler, type ReassemblyOptions } from "./reassembly.js";
import { HEADROOM, SendResult } from "./send.js";
import { UdpEndpoint } from "./udp.js";

export interface InterfaceOptions {
  readonly arp?: ArpOptions;
  readonly reassembly?: ReassemblyOptions;
  readonly icmp?: IcmpOptions;
  /** TTL of datagrams sent (default 64). */
  readonly ttl?: number;
  /** Send MTU, at most the Netif's (default the Netif's). */
  readonly mtu?: number;
  /** Frame buffers kept for reuse (default 256). */
  readonly poolSize?: number;
  /** Send two gratuitous ARP announcements when an address is configured (default true). */
  readonly announce?: boolean;
}

export interface InterfaceDevices {
  readonly netif: Netif;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log?: Logger;
}

export interface EthernetCounters {
  rxFrames: number;
  rxBytes: number;
  /** Shorter than an Ethernet header. */
  rxTruncated: number;
  /** Unicast to another MAC (a switch flooding unknown destinations). */
  rxNotForUs: number;
  rxUnknownType: number;
  txFrames: number;
  txBytes: number;
  /** Frames the Netif refused (queue full, link down). */
  txDropped: number;
}

export interface Ipv4Counters {
  rxPackets: number;
  txPackets: number;
  /** Every received packet not delivered, for whatever reason below. */
  rxDropped: number;
  /** Truncated, bad version, header length, total length, checksum, options or fragment fields. */
  rxHeaderErrors: number;
  /** Martian source, or a destination that is not ours. */
  rxAddressErrors: number;
  rxUnknownProtocol: number;
  /** Datagrams not sent for want of a route or an address. */
  txNoRoute: number;
  /** Datagrams refused by the link or the ARP queue. */
  txDropped: number;
  fragmentsSent: number;
  datagramsFragmented: number;
  loopbackPackets: number;
}

export interface InterfaceCounters {
  readonly ethernet: EthernetCounters;
  readonly ipv4: Ipv4Counters;
  /** Exceptions caught on the receive path (a bug somewhere above; the frame was dropped). */
  internalErrors: number;
}

export interface Route {
  /** The next hop's address: the destination itself on-link, else the gateway. */
  readonly nextHop: number;
  readonly source: number;
}

const LOOPBACK = -2;
const NO_ROUTE = -1;

export { HEADROOM, SendResult };

export class EthernetInterface implements TcpLower {
  readonly headroom = HEADROOM;
  readonly netif: Netif;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log: Logger;
  readonly mac: Uint8Array;
  /** The IPv4 MTU in use: the configured one, or a smaller one from DHCP (see setMtu). */
  mtu: number;
  /** The MTU configured at creation (at most the Netif's); buffers are sized for it. */
  readonly configuredMtu: number;
  readonly ttl: number;
  readonly arp: ArpCacheType;
  readonly reassembler: Reassembler;
  readonly icmp: IcmpEndpoint;
  readonly udp: UdpEndpoint;
  readonly counters: InterfaceCounters = {
    ethernet: {
      rxFrames: 0,
      rxBytes: 0,
      rxTruncated: 0,
      rxNotForUs: 0,
      rxUnknownType: 0,
      txFrames: 0,
      txBytes: 0,
      txDropped: 0,
    },
    ipv4: {
      rxPackets: 0,
      txPackets: 0,
      rxDropped: 0,
      rxHeaderErrors: 0,
      rxAddressErrors: 0,
      rxUnknownProtocol: 0,
      txNoRoute: 0,
      txDropped: 0,
      fragmentsSent: 0,
      datagramsFragmented: 0,
      loopbackPackets: 0,
    },
    internalErrors: 0,
  };

  #address: number | undefined = undefined;
  #prefixLength = 0;
  #mask = 0;
  #gateway: number | undefined = undefined;
  /** The directed broadcast address, or -1 (none: /31, /32 or no address). */
  #broadcast = -1;
  #tcp: TcpUpper | undefined = undefined;
  #identification: number;
  readonly #pool: BufferPool;
  /** Where UDP and ICMP build datagrams: headroom plus the largest IPv4 payload. */
  readonly scratch: Uint8Array;
  readonly #fragment: Uint8Array;
  readonly #arpFrame = new Uint8Array(ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH);
  readonly #multicastMac = new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 0]);
  readonly #allocation: { buffer: Uint8Array; offset: number } = {
    buffer: new Uint8Array(0),
    offset: HEADROOM,
  };
  readonly #loopback: Uint8Array[] = [];
  #loopbackScheduled = false;
  readonly #announce: boolean;
  #announceTimer: { cancel(): void } | undefined = undefined;
  #closed = false;
  // The last TCP destination's Ethernet header, valid while the ARP cache's
  // generation and the configuration are unchanged: a bulk transfer then skips
  // routing and the ARP lookup for every segment.
  #fastDestination = -1;
  #fastGeneration = -1;
  /** The cached Ethernet header as big-endian words: bytes 0-3, 4-7, 8-11 (12-13 is the EtherType). */
  #fastWord0 = 0;
  #fastWord1 = 0;
  #fastWord2 = 0;
  /** DataViews of the last few frame buffers sent from (the pool keeps reusing the same ones). */
  readonly #viewOf: Uint8Array[] = [];
  readonly #views: DataView[] = [];
  #nextView = 0;
  /**
   * The last two frame views written (a data segment and an ACK, say) and
   * what they view: the Netif copies a frame before `write` returns, so the
   * same view of the same pooled buffer can be handed to it again.
   */
  #frame0: Uint8Array = EMPTY;
  #frame0Of: Uint8Array = EMPTY;
  #frame0Start = 0;
  #frame1: Uint8Array = EMPTY;
  #frame1Of: Uint8Array = EMPTY;
  #frame1Start = 0;

  constructor(devices: InterfaceDevices, options: InterfaceOptions = {}) {
    this.netif = devices.netif;
    this.clock = devices.clock;
    this.time = devices.time;
    this.random = devices.random;
    this.log = devices.log ?? silentLogger;
    this.mac = devices.netif.mac.slice(0, 6);
    this.mtu = Math.min(options.mtu ?? devices.netif.mtu, devices.netif.mtu);
    if (!(this.mtu >= 68))
      throw new RangeError(`an IPv4 interface needs an MTU of at least 68, got ${this.mtu}`);
    this.configuredMtu = this.mtu;
    this.ttl = options.ttl ?? 64;
    this.#announce = options.announce ?? true;
    this.#identification = devices.random.int(0x10000);
    this.#pool = new BufferPool(ETHERNET_HEADER_LENGTH + this.mtu, options.poolSize ?? 256);
    this.scratch = new Uint8Array(HEADROOM + 65535);
    this.#fragment = new Uint8Array(ETHERNET_HEADER_LENGTH + this.mtu);
    const now = () => this.clock.now();
    this.arp = new ArpCache(
      this.time,
      now,
      {
        request: (ip, mac) => this.#sendArp(ArpOperation.REQUEST, mac, ip),
        transmit: (frame, mac) => this.#transmitPending(frame, mac),
        drop: (frame) => this.#dropPending(frame),
      },
      options.arp,
    );
    this.icmp = new IcmpEndpoint(this, options.icmp);
    this.udp = new UdpEndpoint(this);
    this.reassembler = new Reassembler(this.time, options.reassembly, (header, first) =>
      this.icmp.reassemblyTimedOut(header, first),
    );
    this.netif.listen((frame) => this.#onFrame(frame));
  }

  // ---- configuration --------------------------------------------------------------------------

  get address(): number | undefined {
    return this.#address;
  }
  get prefixLength(): number {
    return this.#prefixLength;
  }
  get gateway(): number | undefined {
    return this.#gateway;
  }

  /** Sets (or, with undefined, removes) the address; announces it with gratuitous ARP. */
  /**
   * Lowers the MTU to `mtu` (a DHCP server's option 26, RFC 2132 §5.1), never
   * above the configured one nor below 68; `undefined` restores the configured
   * MTU. New TCP connections take their MSS from it; datagrams larger than it
   * are fragmented.
   */
  setMtu(mtu: number | undefined): void {
    this.mtu =
      mtu === undefined ? this.configuredMtu : Math.max(68, Math.min(mtu, this.configuredMtu));
  }

  configure(address: number | undefined, prefixLength = 32, gateway?: number): void {
    this.#address = address;
    this.#prefixLength = address === undefined ? 0 : prefixLength;
    this.#mask = prefixMask(this.#prefixLength);
    this.#gateway = gateway;
    this.#fastDestination = -1;
    this.#broadcast =
      address === undefined || this.#prefixLength >= 31 ? -1 : (address | ~this.#mask) >>> 0;
    this.#announceTimer?.cancel();
    this.#announceTimer = undefined;
    if (address !== undefined && this.#announce) {
      // RFC 5227 §2.3: two announcements, two seconds apart.
      this.announceAddress();
      this.#announceTimer = this.time.setTimer(2e9, () => {
        this.#announceTimer = undefined;
        this.announceAddress();
      });
    }
  }

  /** Sends one gratuitous ARP (a request for our own address, RFC 5227 §2.3). */
  announceAddress(): void {
    if (this.#address !== undefined) this.#sendArp(ArpOperation.REQUEST, undefined, this.#address);
  }

  /** Broadcasts an ARP probe for `address`: a request with sender address 0.0.0.0 (RFC 5227 §2.1.1). */
  probeAddress(address: number): void {
    const frame = this.#arpFrame;
    emitEthernetHeader(frame, 0, BROADCAST_MAC, this.mac, EtherType.ARP);
    emitArpPacket(
      frame,
      ETHERNET_HEADER_LENGTH,
      ArpOperation.REQUEST,
      this.mac,
      0,
      ZERO_MAC,
      address,
    );
    this.#write(frame);
  }

  /**
   * Sees every valid ARP packet received from another host, before the
   * interface acts on it (the DHCP client's conflict detection). Must not throw.
   */
  arpObserver:
    | ((operation: number, senderMac: Uint8Array, senderIp: number, targetIp: number) => void)
    | undefined = undefined;

  get tcpUpper(): TcpUpper | undefined {
    return this.#tcp;
  }

  /** Attaches TCP: received segments go to `upper`. */
  attachTcp(upper: TcpUpper): void {
    this.#tcp = upper;
  }

  /** The subnet's directed broadcast address, or undefined for /31, /32 or no address. */
  get subnetBroadcast(): number | undefined {
    return this.#broadcast < 0 ? undefined : this.#broadcast;
  }

  /** Where a datagram to `destination` goes, or undefined when there is no route. */
  route(destination: number): Route | undefined {
    const hop = this.#nextHop(destination);
    if (hop === NO_ROUTE) return undefined;
    if (hop === LOOPBACK)
      return {
        nextHop: destination,
        source: isLoopbackIpv4(destination) ? destination : this.#address!,
      };
    return { nextHop: hop, source: this.#address ?? 0 };
  }

  #nextHop(destination: number): number {
    const address = this.#address;
    if (destination === IPV4_BROADCAST) return destination;
    if (address === undefined) return NO_ROUTE;
    if (destination === address || isLoopbackIpv4(destination)) return LOOPBACK;
    if (((destination ^ address) & this.#mask) === 0 || isMulticastIpv4(destination))
      return destination;
    if (this.#gateway !== undefined && destination !== 0 && !isReservedIpv4(destination))
      return this.#gateway;
    return NO_ROUTE;
  }

  // ---- TcpLower ----------------------------------------------------------------------------------

  sourceFor(destination: number): number | undefined {
    const hop = this.#nextHop(destination);
    if (hop === NO_ROUTE || destination === IPV4_BROADCAST || isMulticastIpv4(destination))
      return undefined;
    if (hop === LOOPBACK && isLoopbackIpv4(destination)) return destination;
    return this.#address;
  }

  maxSegmentSize(_destination: number): number {
    return this.mtu - IPV4_HEADER_LENGTH;
  }

  /**
   * A pooled buffer for a segment of `length` bytes at `offset`. The returned
   * object is reused by the next call: read its two fields at once.
   */
  allocate(length: number): { buffer: Uint8Array; offset: number } {
    const a = this.#allocation;
    a.buffer =
      HEADROOM + length <= this.#pool.bufferSize
        ? this.#pool.take()
        : new Uint8Array(HEADROOM + length);
    a.offset = HEADROOM;
    return a;
  }

  send(
    source: number,
    destination: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
  ): boolean {
    const pooled = buffer.length === this.#pool.bufferSize;
    if (
      destination === this.#fastDestination &&
      this.#fastGeneration === this.arp.generation &&
      length + IPV4_HEADER_LENGTH <= this.mtu &&
      offset >= HEADROOM
    ) {
      const ip = offset - IPV4_HEADER_LENGTH;
      const start = ip - ETHERNET_HEADER_LENGTH;
      const id = this.#identification;
      this.#identification = (id + 1) & 0xffff;
      this.counters.ipv4.txPackets++;
      const view = this.#view(buffer);
      view.setUint32(start, this.#fastWord0);
      view.setUint32(start + 4, this.#fastWord1);
      view.setUint32(start + 8, this.#fastWord2);
      view.setUint16(start + 12, EtherType.IPV4);
      emitIpv4HeaderView(view, ip, source, destination, IpProtocol.TCP, length, id, this.ttl, true);
      const ok = this.#write(this.#frameView(buffer, start, offset + length));
      if (pooled) this.#pool.give(buffer);
      if (!ok) this.counters.ipv4.txDropped++;
      return ok;
    }
    const result = this.sendIp(
      destination,
      IpProtocol.TCP,
      buffer,
      offset,
      length,
      this.ttl,
      true,
      undefined,
      pooled,
      source,
    );
    this.#remember(destination);
    return result === SendResult.SENT || result === SendResult.QUEUED;
  }

  /** buffer[start, end) as a view, reusing one of the last two when it is the same range. */
  #frameView(buffer: Uint8Array, start: number, end: number): Uint8Array {
    const f0 = this.#frame0;
    if (this.#frame0Of === buffer && this.#frame0Start === start && f0.length === end - start)
      return f0;
    const f1 = this.#frame1;
    if (this.#frame1Of === buffer && this.#frame1Start === start && f1.length === end - start) {
      this.#frame1 = f0;
      this.#frame1Of = this.#frame0Of;
      this.#frame1Start = this.#frame0Start;
      this.#frame0 = f1;
      this.#frame0Of = buffer;
      this.#frame0Start = start;
      return f1;
    }
    const view = buffer.subarray(start, end);
    this.#frame1 = f0;
    this.#frame1Of = this.#frame0Of;
    this.#frame1Start = this.#frame0Start;
    this.#frame0 = view;
    this.#frame0Of = buffer;
    this.#frame0Start = start;
    return view;
  }

  /** A DataView over `buffer`, reused while the same few buffers keep coming back. */
  #view(buffer: Uint8Array): DataView {
    const of = this.#viewOf;
    for (let i = 0; i < of.length; i++) if (of[i] === buffer) return this.#views[i]!;
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const slot = this.#nextView;
    of[slot] = buffer;
    this.#views[slot] = view;
    this.#nextView = (slot + 1) & 3;
    return view;
  }

  /** Caches the Ethernet header towards a unicast destination whose next hop is resolved. */
  #remember(destination: number): void {
    const hop = this.#nextHop(destination);
    if (
      hop < 0 ||
      this.#closed ||
      destination === IPV4_BROADCAST ||
      destination === this.#broadcast ||
      isMulticastIpv4(destination)
    )
      return;
    const generation = this.arp.generation;
    const mac = this.arp.lookup(hop);
    // A lookup that starts a refresh changes nothing cached; a stale entry is not cached.
    if (mac === undefined || this.arp.generation !== generation || this.arp.isStale(hop)) return;
    const header = new Uint8Array(ETHERNET_HEADER_LENGTH);
    emitEthernetHeader(header, 0, mac, this.mac, EtherType.IPV4);
    this.#fastWord0 = readUint32(header, 0);
    this.#fastWord1 = readUint32(header, 4);
    this.#fastWord2 = readUint32(header, 8);
    this.#fastDestination = destination;
    this.#fastGeneration = generation;
  }

  // ---- sending -----------------------------------------------------------------------------------

  /**
   * Sends the IPv4 payload at buffer[offset, offset+length), which has at
   * least HEADROOM bytes in front of it. Datagrams larger than the MTU are
   * fragmented (without DF). When `owned`, the buffer came from the pool and
   * belongs to the interface from now on; otherwise it is only read during
   * the call (queued frames are copied). `done` is called only for QUEUED.
   */
  sendIp(
    destination: number,
    protocol: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    ttl: number,
    dontFragment: boolean,
    done: ((sent: boolean) => void) | undefined,
    owned: boolean,
    source?: number,
  ): SendResult {
    const hop = this.#nextHop(destination);
    if (hop === NO_ROUTE || this.#closed) {
      this.counters.ipv4.txNoRoute++;
      if (owned) this.#pool.give(buffer);
      return SendResult.NO_ROUTE;
    }
    const from =
      source ??
      (hop === LOOPBACK && isLoopbackIpv4(destination) ? destination : (this.#address ?? 0));
    const id = this.#identification;
    this.#identification = (id + 1) & 0xffff;
    this.counters.ipv4.txPackets++;

    if (hop === LOOPBACK) {
      const packet = new Uint8Array(IPV4_HEADER_LENGTH + length);
      packet.set(buffer.subarray(offset, offset + length), IPV4_HEADER_LENGTH);
      emitIpv4Header(packet, 0, from, destination, protocol, length, id, ttl, false, false, 0);
      if (owned) this.#pool.give(buffer);
      this.#loop(packet);
      return SendResult.SENT;
    }

    if (length + IPV4_HEADER_LENGTH <= this.mtu) {
      const ip = offset - IPV4_HEADER_LENGTH;
      emitIpv4Header(
        buffer,
        ip,
        from,
        destination,
        protocol,
        length,
        id,
        ttl,
        dontFragment,
        false,
        0,
      );
      return this.#sendFrame(
        hop,
        destination,
        buffer,
        ip - ETHERNET_HEADER_LENGTH,
        offset + length,
        owned,
        done,
      );
    }

    // Fragmentation (RFC 791 §3.2): pieces of a multiple of 8 bytes, each behind a copy of the header.
    this.counters.ipv4.datagramsFragmented++;
    const chunk = (this.mtu - IPV4_HEADER_LENGTH) & ~7;
    const frame = this.#fragment;
    let result: SendResult = SendResult.SENT;
    for (let at = 0; at < length; at += chunk) {
      const size = Math.min(chunk, length - at);
      const more = at + size < length;
      frame.set(buffer.subarray(offset + at, offset + at + size), HEADROOM);
      emitIpv4Header(
        frame,
        ETHERNET_HEADER_LENGTH,
        from,
        destination,
        protocol,
        size,
        id,
        ttl,
        false,
        more,
        at,
      );
      this.counters.ipv4.fragmentsSent++;
      const r = this.#sendFrame(
        hop,
        destination,
        frame,
        0,
        HEADROOM + size,
        false,
        more ? undefined : done,
      );
      if (r === SendResult.DROPPED) result = r;
      else if (r === SendResult.QUEUED && result === SendResult.SENT) result = r;
    }
    if (owned) this.#pool.give(buffer);
    if (result === SendResult.DROPPED) {
      this.counters.ipv4.txDropped++;
    }
    return result;
  }

  #sendFrame(
    hop: number,
    destination: number,
    buffer: Uint8Array,
    start: number,
    end: number,
    owned: boolean,
    done: ((sent: boolean) => void) | undefined,
  ): SendResult {
    let mac: Uint8Array | undefined;
    if (destination === IPV4_BROADCAST || destination === this.#broadcast) mac = BROADCAST_MAC;
    else if (isMulticastIpv4(destination)) {
      const m = this.#multicastMac;
      m[3] = (destination >>> 16) & 0x7f;
      m[4] = (destination >>> 8) & 0xff;
      m[5] = destination & 0xff;
      mac = m;
    } else mac = this.arp.lookup(hop);

    if (mac !== undefined) {
      emitEthernetHeader(buffer, start, mac, this.mac, EtherType.IPV4);
      const ok = this.#write(this.#frameView(buffer, start, end));
      if (owned) this.#pool.give(buffer);
      if (!ok) {
        this.counters.ipv4.txDropped++;
        return SendResult.DROPPED;
      }
      return SendResult.SENT;
    }
    emitEthernetHeader(buffer, start, BROADCAST_MAC, this.mac, EtherType.IPV4);
    const frame: PendingFrame = owned
      ? { buffer, start, end, pooled: true, done }
      : { buffer: buffer.slice(start, end), start: 0, end: end - start, pooled: false, done };
    if (this.arp.enqueue(hop, frame)) return SendResult.QUEUED;
    this.arp.counters.pendingDropped++;
    this.counters.ipv4.txDropped++;
    if (owned) this.#pool.give(buffer);
    return SendResult.DROPPED;
  }

  #write(frame: Uint8Array): boolean {
    const ok = this.netif.write(frame);
    const c = this.counters.ethernet;
    if (ok) {
      c.txFrames++;
      c.txBytes += frame.length;
    } else c.txDropped++;
    return ok;
  }

  #transmitPending(frame: PendingFrame, mac: Uint8Array): void {
    frame.buffer.set(mac, frame.start);
    const ok = this.#closed ? false : this.#write(frame.buffer.subarray(frame.start, frame.end));
    if (frame.pooled) this.#pool.give(frame.buffer);
    if (!ok) this.counters.ipv4.txDropped++;
    frame.done?.(ok);
  }

  #dropPending(frame: PendingFrame): void {
    this.counters.ipv4.txDropped++;
    if (frame.pooled) this.#pool.give(frame.buffer);
    frame.done?.(false);
  }

  #sendArp(operation: number, targetMac: Uint8Array | undefined, targetIp: number): void {
    const frame = this.#arpFrame;
    const senderIp = this.#address ?? 0;
    emitEthernetHeader(frame, 0, targetMac ?? BROADCAST_MAC, this.mac, EtherType.ARP);
    emitArpPacket(
      frame,
      ETHERNET_HEADER_LENGTH,
      operation,
      this.mac,
      senderIp,
      targetMac ?? ZERO_MAC,
      targetIp,
    );
    if (operation === ArpOperation.REPLY) this.arp.counters.repliesSent++;
    this.#write(frame);
  }

  #loop(packet: Uint8Array): void {
    // Bounded like a link queue: a flood to ourselves drops rather than grows.
    if (this.#loopback.length >= 1024) {
      this.counters.ipv4.txDropped++;
      return;
    }
    this.counters.ipv4.loopbackPackets++;
    this.#loopback.push(packet);
    if (!this.#loopbackScheduled) {
      this.#loopbackScheduled = true;
      queueMicrotask(() => this.#drainLoopback());
    }
  }

  #drainLoopback(): void {
    this.#loopbackScheduled = false;
    const packets = this.#loopback.splice(0, this.#loopback.length);
    for (const packet of packets) {
      if (this.#closed) return;
      try {
        this.#receiveIpv4(packet, 0, packet.length, false, true);
      } catch (error) {
        this.#internalError(error);
      }
    }
  }

  // ---- receiving ---------------------------------------------------------------------------------

  #onFrame(frame: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#receiveFrame(frame);
    } catch (error) {
      this.#internalError(error);
    }
  }

  #internalError(error: unknown): void {
    this.counters.internalErrors++;
    this.log.error("dropped a packet after an internal error", { error });
  }

  #receiveFrame(frame: Uint8Array): void {
    const c = this.counters.ethernet;
    c.rxFrames++;
    c.rxBytes += frame.length;
    if (frame.length < ETHERNET_HEADER_LENGTH) {
      c.rxTruncated++;
      return;
    }
    const multicast = isMulticastDestination(frame, 0);
    if (!multicast && !macEquals(frame, 0, this.mac, 0)) {
      c.rxNotForUs++;
      return;
    }
    const type = ethernetType(frame, 0);
    if (type === EtherType.IPV4) {
      this.#receiveIpv4(
        frame,
        ETHERNET_HEADER_LENGTH,
        frame.length - ETHERNET_HEADER_LENGTH,
        multicast,
        false,
      );
    } else if (type === EtherType.ARP) {
      this.#receiveArp(frame, ETHERNET_HEADER_LENGTH, frame.length - ETHERNET_HEADER_LENGTH);
    } else {
      c.rxUnknownType++;
    }
  }

  #receiveArp(buffer: Uint8Array, offset: number, length: number): void {
    const arp = this.arp;
    if (checkArp(buffer, offset, length) !== ArpProblem.OK) {
      arp.counters.rxErrors++;
      return;
    }
    const operation = arpOperation(buffer, offset);
    if (operation === ArpOperation.REQUEST) arp.counters.requestsReceived++;
    else arp.counters.repliesReceived++;
    const senderMacAt = offset + ARP_SENDER_MAC;
    const senderIp = arpSenderIp(buffer, offset);
    const targetIp = arpTargetIp(buffer, offset);
    // A sender hardware address that is a group address, or our own, is bogus or our own echo.
    if ((buffer[senderMacAt]! & 1) === 1 || macEquals(buffer, senderMacAt, this.mac, 0)) {
      arp.counters.rxErrors++;
      return;
    }
    this.arpObserver?.(
      operation,
      buffer.subarray(senderMacAt, senderMacAt + 6),
      senderIp,
      targetIp,
    );
    const address = this.#address;
    if (address !== undefined && senderIp === address) {
      // Someone else claims our address (RFC 5227 §2.4): say so, defend by announcing.
      arp.counters.conflicts++;
      this.log.warn("another host uses our address", {
        address: formatIpv4(address),
      });
      return;
    }
    const senderMac = buffer.subarray(senderMacAt, senderMacAt + 6);
    const forUs = address !== undefined && targetIp === address;
    if (senderIp !== 0 && !isMulticastIpv4(senderIp) && !isReservedIpv4(senderIp)) {
      arp.learn(senderIp, senderMac, forUs);
    }
    if (forUs && operation === ArpOperation.REQUEST) {
      const reply = this.#arpFrame;
      emitEthernetHeader(reply, 0, senderMac, this.mac, EtherType.ARP);
      emitArpPacket(
        reply,
        ETHERNET_HEADER_LENGTH,
        ArpOperation.REPLY,
        this.mac,
        address,
        senderMac,
        senderIp,
      );
      arp.counters.repliesSent++;
      this.#write(reply);
    }
  }

  #receiveIpv4(
    buffer: Uint8Array,
    offset: number,
    length: number,
    linkMulticast: boolean,
    loopback: boolean,
  ): void {
    const c = this.counters.ipv4;
    c.rxPackets++;
    if (checkIpv4(buffer, offset, length) !== Ipv4Problem.OK) {
      c.rxHeaderErrors++;
      c.rxDropped++;
      return;
    }
    const source = ipv4Source(buffer, offset);
    const destination = ipv4Destination(buffer, offset);
    const address = this.#address;
    if (!loopback) {
      // RFC 1122 §3.2.1.3: discard datagrams from a source that names no single host.
      const martian =
        isMulticastIpv4(source) ||
        isReservedIpv4(source) ||
        isLoopbackIpv4(source) ||
        source === address ||
        source === this.#broadcast;
      const forUs =
        destination === address ||
        destination === IPV4_BROADCAST ||
        destination === this.#broadcast;
      if (martian || !forUs) {
        c.rxAddressErrors++;
        c.rxDropped++;
        return;
      }
    }
    let packet = buffer;
    let at = offset;
    if (ipv4IsFragment(buffer, offset)) {
      const whole = this.reassembler.add(buffer, offset);
      if (whole === undefined) return;
      packet = whole;
      at = 0;
    }
    const headerLength = ipv4HeaderLength(packet, at);
    const total = ipv4TotalLength(packet, at);
    const broadcast =
      linkMulticast || destination === IPV4_BROADCAST || destination === this.#broadcast;
    switch (ipv4Protocol(packet, at)) {
      case IpProtocol.TCP: {
        const tcp = this.#tcp;
        if (tcp !== undefined && !broadcast) {
          tcp.receive(source, destination, packet, at + headerLength, total - headerLength);
          return;
        }
        break;
      }
      case IpProtocol.UDP:
        this.udp.receive(packet, at, headerLength, total, broadcast);
        return;
      case IpProtocol.ICMP:
        this.icmp.receive(packet, at, headerLength, total, broadcast);
        return;
    }
    c.rxUnknownProtocol++;
    c.rxDropped++;
    if (!broadcast) this.icmp.protocolUnreachable(packet, at, total);
  }

  /** Stops receiving, drops queued frames and cancels every timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.netif.listen(() => {});
    this.#announceTimer?.cancel();
    this.arp.clear();
    this.reassembler.clear();
    this.icmp.close();
    this.udp.close();
    this.#loopback.length = 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Frame buffers the pool has created (flat in a steady state). */
  get buffersAllocated(): number {
    return this.#pool.allocated;
  }
}

const ZERO_MAC = new Uint8Array(6);
const EMPTY = new Uint8Array(0);
