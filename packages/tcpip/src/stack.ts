// The direct stack: Atoll's own TCP/IP over a Netif. `createDirectStack`
// builds it from devices (for tests and embedding); `direct(options)` is the
// driver a unikernel binds, configured by `--ipv4=10.0.0.2/24` and
// `--ipv4-gateway=10.0.0.1`.

import { MonotonicClock, Time } from "@atoll/clock";
import {
  arg,
  driver,
  formatIpv4,
  type Ipv4Cidr,
  type Logger,
  parseCidr,
  parseIpv4,
  silentLogger,
} from "@atoll/core";
import { Random } from "@atoll/entropy";
import { Netif } from "@atoll/netif";
import type { ArpCounters, ArpOptions } from "./iface/arp-cache.js";
import type { IcmpCounters, IcmpOptions } from "./iface/icmp.js";
import {
  type EthernetCounters,
  EthernetInterface,
  type InterfaceOptions,
  type Ipv4Counters,
} from "./iface/interface.js";
import type { ReassemblyCounters, ReassemblyOptions } from "./iface/reassembly.js";
import type { UdpCounters } from "./iface/udp.js";
import {
  type DhcpLease,
  type Icmp,
  type Ipv4,
  type Ipv4Config,
  Stack,
  type StackStats,
  type Tcp,
  type Udp,
} from "./signature.js";
import { createTcp, type TcpConfig, type TcpStats } from "./tcp/index.js";
import type { TcpLower, TcpUpper } from "./tcp/lower.js";

/** What the direct stack needs from a TCP implementation (src/tcp provides it). */
export interface TcpTransport {
  readonly tcp: Tcp;
  readonly upper: TcpUpper;
  readonly stats: StackStats["tcp"];
  close(): void | Promise<void>;
}

export interface TcpTransportDevices {
  readonly lower: TcpLower;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log: Logger;
}

export interface DirectStackOptions extends InterfaceOptions {
  /** The address and prefix (`10.0.0.2/24`); the `--ipv4` argument overrides it. */
  readonly ipv4?: string | Ipv4Cidr;
  /** The default gateway; the `--ipv4-gateway` argument overrides it. */
  readonly gateway?: string;
  readonly arp?: ArpOptions;
  readonly reassembly?: ReassemblyOptions;
  readonly icmp?: IcmpOptions;
  /** TCP's tunables: buffer sizes, congestion control, TIME-WAIT, SYN backlog, ... (TCP.md). */
  readonly tcp?: TcpConfig;
  /** The TCP implementation (default Atoll's, src/tcp). */
  readonly transport?: (devices: TcpTransportDevices, options: TcpConfig) => TcpTransport;
}

export interface DirectStackDevices {
  readonly netif: Netif;
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly random: Random;
  readonly log?: Logger;
}

/** Every counter of the direct stack; the StackStats fields plus one group per layer. Live. */
export interface DirectStackStats extends StackStats {
  /** TCP's counters (Atoll's TCP gives TcpStats, a superset). */
  readonly tcp: StackStats["tcp"] & Partial<Omit<TcpStats, keyof StackStats["tcp"]>>;
  readonly ethernet: Readonly<EthernetCounters>;
  readonly arp: Readonly<ArpCounters>;
  readonly ipv4: Readonly<Ipv4Counters>;
  readonly fragments: Readonly<ReassemblyCounters>;
  readonly icmp: Readonly<IcmpCounters>;
  readonly udp: Readonly<UdpCounters>;
  /** Exceptions caught on the receive path (should stay 0). */
  readonly internalErrors: number;
}

/** The direct stack as a Stack, plus access to its interface for diagnostics and tests. */
export interface DirectStack extends Stack {
  readonly stats: DirectStackStats;
  /** The Ethernet/IPv4 interface (ARP cache, reassembly, counters). */
  readonly interface: EthernetInterface;
  /** Sets the address (a DHCP client uses this); undefined removes it. */
  configure(address: Ipv4Cidr | undefined, gateway?: string): void;
  /** Stops TCP, rejects pending operations, cancels every timer and detaches from the Netif. */
  close(): Promise<void>;
}

/** Builds a direct stack over `devices`. */
export function createDirectStack(
  devices: DirectStackDevices,
  options: DirectStackOptions = {},
): DirectStack {
  const log = devices.log ?? silentLogger;
  const iface = new EthernetInterface({ ...devices, log }, options);
  const makeTransport = options.transport ?? defaultTransport;
  const transport = makeTransport(
    {
      lower: iface,
      clock: devices.clock,
      time: devices.time,
      random: devices.random,
      log: log.child("tcp"),
    },
    options.tcp ?? {},
  );
  iface.attachTcp(transport.upper);

  // Set by the DHCP client once it exists (--ipv4=dhcp); static configuration has no lease.
  const lease: DhcpLease | undefined = undefined;
  const configure = (cidr: Ipv4Cidr | undefined, gateway?: string): void => {
    if (cidr === undefined) {
      iface.configure(undefined);
      return;
    }
    const address = parseIpv4(cidr.address);
    if (address === undefined || !(cidr.prefix >= 0 && cidr.prefix <= 32))
      throw new RangeError(`not an IPv4 address and prefix: ${cidr.address}/${cidr.prefix}`);
    const gw = gateway === undefined ? undefined : parseIpv4(gateway);
    if (gateway !== undefined && gw === undefined)
      throw new RangeError(`not an IPv4 gateway address: ${gateway}`);
    iface.configure(address, cidr.prefix, gw);
    log.info("configured", {
      address: `${cidr.address}/${cidr.prefix}`,
      ...(gateway === undefined ? {} : { gateway }),
    });
  };
  const initial = typeof options.ipv4 === "string" ? parseCidr(options.ipv4) : options.ipv4;
  if (typeof options.ipv4 === "string" && initial === undefined)
    throw new RangeError(`not an IPv4 address with prefix: ${options.ipv4}`);
  if (initial !== undefined) configure(initial, options.gateway);

  const ipv4: Ipv4 = {
    config(): Ipv4Config {
      const address = iface.address;
      return {
        address: address === undefined ? undefined : formatIpv4(address),
        prefixLength: address === undefined ? undefined : iface.prefixLength,
        gateway: iface.gateway === undefined ? undefined : formatIpv4(iface.gateway),
      };
    },
    lease: () => lease,
  };
  const icmp: Icmp = { ping: (address, pingOptions) => iface.icmp.ping(address, pingOptions) };
  const udp: Udp = {
    listen: (port, listener) => iface.udp.listen(port, listener),
    unlisten: (port) => iface.udp.unlisten(port),
    send: (address, port, data, sendOptions) => iface.udp.send(address, port, data, sendOptions),
  };
  const c = iface.counters;
  const stats: DirectStackStats = {
    ethernet: c.ethernet,
    arp: iface.arp.counters,
    ipv4: c.ipv4,
    fragments: iface.reassembler.counters,
    icmp: iface.icmp.counters,
    udp: iface.udp.counters,
    tcp: transport.stats,
    get internalErrors() {
      return c.internalErrors;
    },
  };
  let closing: Promise<void> | undefined;
  return {
    ipv4,
    icmp,
    udp,
    tcp: transport.tcp,
    stats,
    interface: iface,
    configure,
    close() {
      closing ??= (async () => {
        try {
          await transport.close();
        } finally {
          iface.close();
        }
      })();
      return closing;
    },
  };
}

function defaultTransport(devices: TcpTransportDevices, options: TcpConfig): TcpTransport {
  return createTcp({ ...devices, options });
}

/**
 * The direct stack as a driver: provides Stack over a Netif, a MonotonicClock,
 * Time and Random. Runtime arguments: `--ipv4=ADDRESS/PREFIX` (required unless
 * given in `options.ipv4`) and `--ipv4-gateway=ADDRESS`.
 */
export const direct = (options: DirectStackOptions = {}) => {
  const initial = typeof options.ipv4 === "string" ? parseCidr(options.ipv4) : options.ipv4;
  return driver({
    name: "stack.direct",
    provides: Stack,
    needs: { netif: Netif, clock: MonotonicClock, time: Time, random: Random },
    args: {
      ipv4: arg.cidr({
        doc: "the interface's IPv4 address and prefix length",
        env: "ATOLL_IPV4",
        ...(initial === undefined ? {} : { default: initial }),
      }),
      "ipv4-gateway": arg.ipv4({
        doc: "the default gateway",
        env: "ATOLL_IPV4_GATEWAY",
        optional: true,
        ...(options.gateway === undefined ? {} : { default: options.gateway }),
      }),
    },
    connect(devices, args, context) {
      const { ipv4: _ipv4, gateway: _gateway, ...rest } = options;
      const gateway = args["ipv4-gateway"];
      return createDirectStack(
        { ...devices, log: context.log },
        {
          ...rest,
          ipv4: args.ipv4,
          ...(gateway === undefined ? {} : { gateway }),
        },
      );
    },
    disconnect: (stack) => (stack as DirectStack).close(),
  });
};
