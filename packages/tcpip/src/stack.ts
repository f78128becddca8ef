// The direct stack: Atoll's own TCP/IP over a Netif. `createDirectStack`
// builds it from devices (for tests and embedding); `direct(options)` is the
// driver a unikernel binds, configured by `--ipv4=10.0.0.2/24` and
// `--ipv4-gateway=10.0.0.1`, or by DHCP with `--ipv4=dhcp`.

import { MonotonicClock, Time } from "@atoll/clock";
import {
  arg,
  driver,
  formatCidr,
  formatIpv4,
  type Ipv4Cidr,
  type Logger,
  parseCidr,
  parseIpv4,
  silentLogger,
} from "@atoll/core";
import { Random } from "@atoll/entropy";
import { Netif } from "@atoll/netif";
import { DhcpClient, type DhcpCounters, type DhcpOptions } from "./dhcp/client.js";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "./dhcp/wire.js";
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
  type Ipv4ChangeListener,
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
  /**
   * The address and prefix (`10.0.0.2/24`), or `"dhcp"` to get them from a
   * DHCP server (the client starts with the stack); the `--ipv4` argument overrides it.
   */
  readonly ipv4?: string | Ipv4Cidr;
  /** The DHCP client's options (used with `ipv4: "dhcp"` or `stack.dhcp.start()`). */
  readonly dhcp?: DhcpOptions;
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
  /** The DHCP client's counters (all 0 without DHCP). */
  readonly dhcp: Readonly<DhcpCounters>;
  /** Exceptions caught on the receive path (should stay 0). */
  readonly internalErrors: number;
}

/** The direct stack as a Stack, plus access to its interface for diagnostics and tests. */
export interface DirectStack extends Stack {
  readonly stats: DirectStackStats;
  /** The Ethernet/IPv4 interface (ARP cache, reassembly, counters). */
  readonly interface: EthernetInterface;
  /** Sets the address; undefined removes it. (Stop `dhcp` first, or it will override this.) */
  configure(address: Ipv4Cidr | undefined, gateway?: string): void;
  /**
   * The DHCP client (RFC 2131), started by `ipv4: "dhcp"`, or by hand with
   * `start()`. It lives as long as the stack and remembers its last lease
   * across stop() and start() (INIT-REBOOT).
   */
  readonly dhcp: DhcpClient;
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

  // The lease, when the address came from DHCP; static configuration has none.
  let lease: DhcpLease | undefined;
  const listeners = new Set<Ipv4ChangeListener>();
  const notify = () => {
    const config = ipv4.config();
    for (const listener of [...listeners]) {
      try {
        listener(config, lease);
      } catch (error) {
        log.warn("an ipv4.onChange listener threw", { error });
      }
    }
  };
  const configure = (cidr: Ipv4Cidr | undefined, gateway?: string): void => {
    setAddress(cidr, gateway);
    lease = undefined;
    notify();
  };
  const setAddress = (cidr: Ipv4Cidr | undefined, gateway?: string): void => {
    if (cidr === undefined) {
      if (iface.address !== undefined) log.info("address removed");
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
  const useDhcp = options.ipv4 === "dhcp";
  const initial =
    typeof options.ipv4 === "string"
      ? useDhcp
        ? undefined
        : parseCidr(options.ipv4)
      : options.ipv4;
  if (typeof options.ipv4 === "string" && !useDhcp && initial === undefined)
    throw new RangeError(`not an IPv4 address with prefix, nor "dhcp": ${options.ipv4}`);
  if (initial !== undefined) setAddress(initial, options.gateway);

  const dhcp = new DhcpClient(
    {
      mac: iface.mac,
      mtu: iface.configuredMtu,
      clock: devices.clock,
      time: devices.time,
      random: devices.random,
      log: log.child("dhcp"),
      listen: (listener) => iface.udp.listen(DHCP_CLIENT_PORT, listener, { internal: true }),
      unlisten: () => iface.udp.unlisten(DHCP_CLIENT_PORT),
      send: (address, data) =>
        iface.udp.send(address, DHCP_SERVER_PORT, data, { srcPort: DHCP_CLIENT_PORT }),
      probe: (address) => iface.probeAddress(address),
      watchArp: (observer) => {
        iface.arpObserver = observer;
      },
      apply: (granted) => {
        const c = iface.address;
        const same =
          granted !== undefined &&
          c !== undefined &&
          formatIpv4(c) === granted.address &&
          iface.prefixLength === granted.prefixLength &&
          (iface.gateway === undefined ? undefined : formatIpv4(iface.gateway)) === granted.gateway;
        // A renewal that changes nothing leaves the interface alone (no new announcements).
        if (!same)
          setAddress(
            granted === undefined
              ? undefined
              : { address: granted.address, prefix: granted.prefixLength },
            granted?.gateway,
          );
        // Option 26: the link's MTU, when the server gives one (RFC 2132 §5.1).
        iface.setMtu(granted?.mtu);
        lease = granted;
        notify();
      },
    },
    options.dhcp,
  );

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
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
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
    dhcp: dhcp.counters,
    get internalErrors() {
      return c.internalErrors;
    },
  };
  let closing: Promise<void> | undefined;
  const stack: DirectStack = {
    ipv4,
    icmp,
    udp,
    tcp: transport.tcp,
    stats,
    interface: iface,
    configure,
    dhcp,
    close() {
      closing ??= (async () => {
        try {
          dhcp.stop();
          listeners.clear();
          await transport.close();
        } finally {
          iface.close();
        }
      })();
      return closing;
    },
  };
  if (useDhcp) dhcp.start();
  return stack;
}

function defaultTransport(devices: TcpTransportDevices, options: TcpConfig): TcpTransport {
  return createTcp({ ...devices, options });
}

export interface DirectDriverOptions extends DirectStackOptions {
  /** With DHCP, connect resolves once the first lease is bound (default true). */
  readonly waitForLease?: boolean;
}

/** `--ipv4`: an address with its prefix length, or "dhcp". */
function ipv4Arg(initial: Ipv4Cidr | "dhcp" | undefined) {
  return arg.custom<Ipv4Cidr | "dhcp", { doc: string; env: string; default?: Ipv4Cidr | "dhcp" }>(
    {
      metavar: "CIDR|dhcp",
      form: 'an IPv4 address with prefix length like 10.0.0.2/24, or "dhcp"',
      parse: (text) => (text === "dhcp" ? "dhcp" : parseCidr(text)),
      accept(value) {
        if (value === "dhcp") return "dhcp";
        if (typeof value === "object" && value !== null) {
          const c = value as Partial<Ipv4Cidr>;
          if (typeof c.address === "string" && typeof c.prefix === "number")
            return parseCidr(`${c.address}/${c.prefix}`);
        }
        return undefined;
      },
      format: (value) => (value === "dhcp" ? "dhcp" : formatCidr(value)),
    },
    {
      doc: 'the interface\'s IPv4 address and prefix length, or "dhcp" to lease them from a DHCP server',
      env: "ATOLL_IPV4",
      ...(initial === undefined ? {} : { default: initial }),
    },
  );
}

/**
 * The direct stack as a driver: provides Stack over a Netif, a MonotonicClock,
 * Time and Random. Runtime arguments: `--ipv4=ADDRESS/PREFIX` or `--ipv4=dhcp`
 * (required unless given in `options.ipv4`) and `--ipv4-gateway=ADDRESS`
 * (static configuration only: with DHCP the server names the router). With
 * DHCP, connecting waits for the first lease (unless `waitForLease: false`).
 */
export const direct = (options: DirectDriverOptions = {}) => {
  const initial =
    options.ipv4 === "dhcp"
      ? "dhcp"
      : typeof options.ipv4 === "string"
        ? parseCidr(options.ipv4)
        : options.ipv4;
  return driver({
    name: "stack.direct",
    provides: Stack,
    needs: { netif: Netif, clock: MonotonicClock, time: Time, random: Random },
    args: {
      ipv4: ipv4Arg(initial),
      "ipv4-gateway": arg.ipv4({
        doc: "the default gateway (with a static address)",
        env: "ATOLL_IPV4_GATEWAY",
        optional: true,
        ...(options.gateway === undefined ? {} : { default: options.gateway }),
      }),
    },
    async connect(devices, args, context) {
      const { ipv4: _ipv4, gateway: _gateway, waitForLease, ...rest } = options;
      const gateway = args["ipv4-gateway"];
      const stack = createDirectStack(
        { ...devices, log: context.log },
        {
          ...rest,
          ipv4: args.ipv4,
          ...(gateway === undefined ? {} : { gateway }),
        },
      );
      if (args.ipv4 === "dhcp" && waitForLease !== false) {
        context.log.info("waiting for a DHCP lease");
        try {
          await stack.dhcp.whenBound(context.signal);
        } catch (error) {
          await stack.close();
          throw error;
        }
      }
      return stack;
    },
    disconnect: (stack) => (stack as DirectStack).close(),
  });
};
