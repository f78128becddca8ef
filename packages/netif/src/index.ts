// @atoll/netif: the Netif signature and its platform-neutral drivers — the
// memory switch, impairments and pcap recording.

export { InvalidNetifOptionError } from "./errors.js";
export {
  type Direction,
  type ImpairDevices,
  ImpairedNetif,
  ImpairmentCounters,
  Impairments,
  type ImpairOptions,
  impair,
  type LinkImpairments,
} from "./impair.js";
export {
  BROADCAST_MAC,
  formatMac,
  isBroadcastMac,
  isLocalMac,
  isMulticastMac,
  MAC_LENGTH,
  macKey,
  parseMac,
} from "./mac.js";
export {
  MemoryPort,
  type MemoryPortOptions,
  MemorySwitch,
  type MemorySwitchOptions,
  SwitchCounters,
} from "./memory.js";
export {
  DEFAULT_SNAP_LENGTH,
  LINKTYPE_ETHERNET,
  MemoryPcapSink,
  PCAP_FILE_HEADER,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_RECORD_HEADER,
  PcapNetif,
  type PcapOptions,
  type PcapSink,
  PcapWriter,
  type PcapWriterOptions,
  pcap,
} from "./pcap.js";
export { type FrameListener, Netif, type NetifStats } from "./signature.js";
export { ETHERNET_HEADER, MAX_MTU, MIN_MTU, NetifCounters, snapshotStats } from "./stats.js";
