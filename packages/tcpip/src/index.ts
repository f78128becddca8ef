// @atoll/tcpip: the Stack signature, Atoll's direct TCP/IP stack and the socket stack.
export {
  type ArpObserver,
  type DhcpArpProbeOptions,
  DhcpClient,
  type DhcpCounters,
  type DhcpHost,
  type DhcpOptions,
  type DhcpState,
} from "./dhcp/client.js";
export {
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  type DhcpMessageInit,
  DhcpMessageType,
  DhcpOption,
  DhcpProblem,
  emitDhcp,
  parseDhcp,
} from "./dhcp/wire.js";
export * from "./errors.js";
export { flowReadable, flowWritable } from "./flow-streams.js";
export type { ArpCounters, ArpOptions } from "./iface/arp-cache.js";
export type { IcmpCounters, IcmpOptions } from "./iface/icmp.js";
export type {
  EthernetCounters,
  EthernetInterface,
  InterfaceOptions,
  Ipv4Counters,
} from "./iface/interface.js";
export type { ReassemblyCounters, ReassemblyOptions } from "./iface/reassembly.js";
export type { UdpCounters } from "./iface/udp.js";
export * from "./signature.js";
export {
  createDirectStack,
  type DirectDriverOptions,
  type DirectStack,
  type DirectStackDevices,
  type DirectStackOptions,
  type DirectStackStats,
  direct,
  type TcpTransport,
  type TcpTransportDevices,
} from "./stack.js";
export {
  type CongestionControlName,
  createTcp,
  type TcpConfig,
  type TcpInstance,
  type TcpStats,
} from "./tcp/index.js";
export type { TcpLower, TcpUpper } from "./tcp/lower.js";
export { finishChecksum, internetChecksum, pseudoHeaderSum, sumWords } from "./wire/checksum.js";
