// TCP (RFC 9293) for Atoll's direct stack: a transport over any IPv4 layer
// that implements TcpLower (src/tcp/lower.ts).
//
// Wiring it into a stack:
//
//   const tcp = createTcp({ lower, clock, time, random, log, options });
//   // IPv4 hands every valid protocol-6 packet to TCP:
//   //   tcp.upper.receive(srcAddr, dstAddr, bytes, offset, length)   (TCP checks the checksum)
//   // and ICMP errors quoting a TCP segment we sent (addresses of the *quoted* packet:
//   // src = our address, dst = the remote one; quoted = the quoted TCP header, >= 8 bytes):
//   //   tcp.upper.icmpError(ourAddr, remoteAddr, quoted, "unreachable" | "port-unreachable" | "frag-needed", mtu)
//   stack.tcp = tcp.tcp;            // the Tcp signature: listen / unlisten / connect → Flow
//   stack.stats.tcp = tcp.stats;    // live counters, a superset of StackStats["tcp"]
//   // on disconnect:
//   tcp.close();                    // resets every connection, stops the timer
//
// `lower.send` may deliver synchronously or later; TCP never re-enters itself
// from inside `send`. Addresses are IPv4 addresses as unsigned 32-bit numbers.
// Everything runs on the given Time/MonotonicClock/Random devices: under
// VirtualTime and a seeded Random a run is exactly reproducible.

import type { Logger } from "@atoll/core";
import type { TcpConfig } from "./config.js";
import { type TcpDevices, TcpEngine } from "./engine.js";
import type { TcpUpper } from "./lower.js";
import type { TcpStats } from "./stats.js";

export type { ResolvedTcpConfig, TcpConfig } from "./config.js";
export {
  type CongestionControl,
  type CongestionControlName,
  type CongestionState,
  Cubic,
  createCongestionControl,
  NewReno,
} from "./congestion.js";
export { Connection, STATE_NAMES, type TcpStateName } from "./connection.js";
export {
  type TcpConnectOptions,
  type TcpDevices,
  TcpEngine,
  type TcpListenOptions,
} from "./engine.js";
export { TcpFlow } from "./flow.js";
export type { TcpLower, TcpUpper } from "./lower.js";
export { SipHash } from "./siphash.js";
export { TcpStats } from "./stats.js";
export * as tcpWire from "./wire.js";

export interface CreateTcpOptions extends TcpDevices {
  readonly log?: Logger;
  readonly options?: TcpConfig;
}

export interface TcpInstance {
  /** The Tcp signature (listen, unlisten, connect). */
  readonly tcp: TcpEngine;
  /** What IPv4 calls: receive() and icmpError(). */
  readonly upper: TcpUpper;
  /** Live counters. */
  readonly stats: TcpStats;
  /** The engine itself (diagnostics: connectionCount, connections()). */
  readonly engine: TcpEngine;
  /** Resets every connection, forgets listeners, stops the timer. */
  close(): void;
}

/** Creates a TCP engine over `lower`. */
export function createTcp(options: CreateTcpOptions): TcpInstance {
  const engine = new TcpEngine(options, options.options);
  return {
    tcp: engine,
    upper: engine,
    stats: engine.stats,
    engine,
    close: () => engine.close(),
  };
}
