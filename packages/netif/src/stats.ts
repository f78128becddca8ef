// The counters behind NetifStats: one plain object per interface, updated in
// place on the hot path (monomorphic, number fields only).

import type { NetifStats } from "./signature.js";

export class NetifCounters implements NetifStats {
  rxBytes = 0;
  rxPackets = 0;
  rxDropped = 0;
  rxErrors = 0;
  txBytes = 0;
  txPackets = 0;
  txDropped = 0;
  txErrors = 0;
}

/** A frozen copy of the counters, for comparing before and after. */
export function snapshotStats(stats: NetifStats): NetifStats {
  return Object.freeze({
    rxBytes: stats.rxBytes,
    rxPackets: stats.rxPackets,
    rxDropped: stats.rxDropped,
    rxErrors: stats.rxErrors,
    txBytes: stats.txBytes,
    txPackets: stats.txPackets,
    txDropped: stats.txDropped,
    txErrors: stats.txErrors,
  });
}

/** Ethernet II header length: destination, source, EtherType. */
export const ETHERNET_HEADER = 14;
/** Smallest and largest payload MTU a driver here accepts. 68 is IPv4's minimum (RFC 791). */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;
