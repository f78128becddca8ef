// The Stack signature: IPv4, ICMP, UDP and TCP as an application sees them,
// the same over Atoll's own stack (direct) and over host sockets (socket).
// Addresses are dotted-quad strings at this boundary; durations are ns.

import { type Device, signature } from "@atoll/core";

export interface Ipv4Config {
  /** The interface address, e.g. "10.0.0.2", or undefined before one is configured (DHCP). */
  readonly address: string | undefined;
  readonly prefixLength: number | undefined;
  readonly gateway: string | undefined;
}

export interface DhcpLease {
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string | undefined;
  readonly dnsServers: readonly string[];
  readonly server: string;
  /** The interface MTU the server advertises (option 26), reported, not applied. */
  readonly mtu: number | undefined;
  /** Lease duration (T1, T2: renewal and rebinding times), ns from `boundAt`; Infinity for an infinite lease. */
  readonly leaseTimeNs: number;
  readonly renewalTimeNs: number;
  readonly rebindingTimeNs: number;
  /**
   * MonotonicClock time the lease was last granted or renewed: when the
   * DHCPREQUEST that won it was sent (RFC 2131 §4.4.1).
   */
  readonly boundAt: number;
}

/** Called after the address, prefix, gateway or lease changed. */
export type Ipv4ChangeListener = (config: Ipv4Config, lease: DhcpLease | undefined) => void;

export interface Ipv4 {
  config(): Ipv4Config;
  /** The DHCP lease, when the address came from DHCP. */
  lease(): DhcpLease | undefined;
  /**
   * Calls `listener` after every change of the configuration or the lease
   * (bound, renewed, rebound, expired, released); returns a function that
   * stops it. A stack whose configuration never changes never calls it.
   */
  onChange(listener: Ipv4ChangeListener): () => void;
}

export interface PingResult {
  readonly address: string;
  /** Round-trip time in ns on the stack's MonotonicClock. */
  readonly rttNs: number;
  readonly ttl: number;
  readonly bytes: number;
}

export interface PingOptions {
  /** Default 1 s. */
  readonly timeoutNs?: number;
  /** Payload bytes, default 56. */
  readonly size?: number;
  readonly signal?: AbortSignal;
}

export interface Icmp {
  /** Sends one echo request; rejects with ATOLL_NET_TIMEOUT when no reply comes in time. */
  ping(address: string, options?: PingOptions): Promise<PingResult>;
}

export interface UdpDatagram {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  /** Valid only during the listener call; copy to keep. */
  readonly data: Uint8Array;
}

export interface UdpSendOptions {
  /** Source port (default: the listened port if any, else an ephemeral one). */
  readonly srcPort?: number;
  readonly ttl?: number;
}

export interface Udp {
  /** Delivers datagrams to `port`; throws ATOLL_ADDRESS_IN_USE when already listened. */
  listen(port: number, listener: (datagram: UdpDatagram) => void): void;
  unlisten(port: number): void;
  /** Sends one datagram; resolves once handed to the link, rejects with ATOLL_NET_UNREACHABLE. */
  send(address: string, port: number, data: Uint8Array, options?: UdpSendOptions): Promise<void>;
}

/** A TCP connection. Bytes in order, both directions, with backpressure. */
export interface Flow {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * The next chunk of received bytes, null at end of stream (the peer shut
   * down its side). Rejects with a typed error (ATOLL_TCP_RESET, ATOLL_TCP_TIMEOUT, ...).
   * The returned array belongs to the caller.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Queues bytes for sending; resolves when they fit in the send buffer (so
   * awaiting each write is backpressure). The caller may reuse `data` once
   * the promise resolves. Rejects after shutdown, reset or timeout.
   */
  write(data: Uint8Array): Promise<void>;
  /** Half-close: sends FIN after everything written; reading continues. */
  shutdown(): Promise<void>;
  /** Shuts down and releases the connection; resolves when it is closed. */
  close(): Promise<void>;
  /** Resets the connection (RST) at once. */
  abort(): void;
  /** Resolves when the connection is fully closed (either way); never rejects. */
  readonly closed: Promise<void>;
  /** Web Streams views of the same connection (use either these or read/write, not both). */
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  setNoDelay(noDelay: boolean): void;
  setKeepAlive(enabled: boolean, idleNs?: number): void;
}

export interface ListenOptions {
  /** Completed connections waiting for the application (default 128). */
  readonly backlog?: number;
  readonly noDelay?: boolean;
}

export interface ConnectOptions {
  /** Give up the handshake after this long (default 30 s). */
  readonly timeoutNs?: number;
  readonly localPort?: number;
  readonly noDelay?: boolean;
  readonly signal?: AbortSignal;
}

export interface Tcp {
  /** Accepts connections on `port`; throws ATOLL_ADDRESS_IN_USE when already listened. */
  listen(port: number, onFlow: (flow: Flow) => void, options?: ListenOptions): void;
  unlisten(port: number): void;
  /** Rejects with ATOLL_TCP_REFUSED, ATOLL_TCP_TIMEOUT or ATOLL_NET_UNREACHABLE. */
  connect(address: string, port: number, options?: ConnectOptions): Promise<Flow>;
}

/** Counters for observability (the website's /status shows them). */
export interface StackStats {
  readonly ipv4: {
    readonly rxPackets: number;
    readonly txPackets: number;
    readonly rxDropped: number;
  };
  readonly tcp: {
    readonly activeOpens: number;
    readonly passiveOpens: number;
    readonly currentConnections: number;
    readonly retransmittedSegments: number;
    readonly resetsSent: number;
    readonly rxSegments: number;
    readonly txSegments: number;
    readonly rxDropped: number;
  };
  readonly udp: {
    readonly rxDatagrams: number;
    readonly txDatagrams: number;
    readonly rxDropped: number;
  };
}

export interface Stack extends Device {
  readonly ipv4: Ipv4;
  readonly icmp: Icmp;
  readonly udp: Udp;
  readonly tcp: Tcp;
  readonly stats: StackStats;
}
export const Stack = signature<Stack>()("atoll.stack/1");
