// @atoll/interop: helpers for running unikernels against the Linux kernel's
// own TCP/IP — network namespaces, TAP links moved into them, veth pairs,
// the services a unikernel runs during a test, and skip reasons.

export { type Dnsmasq, type DnsmasqOptions, startDnsmasq } from "./dnsmasq.js";
export {
  adoptInterface,
  openTapLink,
  openVethPair,
  type TapLink,
  type TapLinkOptions,
  type VethPair,
} from "./link.js";
export {
  CommandError,
  type CommandResult,
  type ExecOptions,
  execHost,
  Netns,
  stopChild,
  uniqueName,
} from "./netns.js";
export { CONCURRENT_ECHO_CLIENT, RESETTING_CLIENT, RESETTING_SERVER } from "./python.js";
export {
  type FlowRecord,
  fillPattern,
  httpResponder,
  patternDigest,
  type Service,
  tcpEcho,
  tcpSink,
  tcpSource,
  udpEcho,
  writePattern,
} from "./services.js";
export {
  hasCommand,
  interopSkipReason,
  progress,
  searchPath,
  skipReason,
  TOOL_PACKAGES,
  type Tool,
} from "./tools.js";
export {
  CurlTransfers,
  type DirectionResult,
  type RandomFile,
  randomFile,
  type TransferOptions,
} from "./transfers.js";
export { type TsharkRow, tshark } from "./tshark.js";
export {
  createWorld,
  interopLogger,
  type SystemDevices,
  systemDevices,
  type World,
  type WorldOptions,
} from "./world.js";
