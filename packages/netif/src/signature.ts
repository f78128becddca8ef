// The Netif signature: an Ethernet link. Frames in, frames out, counters.

import { type Device, signature } from "@atoll/core";

/** Live counters; drivers update them in place. */
export interface NetifStats {
  readonly rxBytes: number;
  readonly rxPackets: number;
  /** Frames received but dropped (queue full, no listener, too large). */
  readonly rxDropped: number;
  /** Frames received malformed (too short, bad length). */
  readonly rxErrors: number;
  readonly txBytes: number;
  readonly txPackets: number;
  /** Frames not sent because a queue was full or the link is down. */
  readonly txDropped: number;
  /** Frames refused as malformed (too short, larger than mtu + 14). */
  readonly txErrors: number;
}

/**
 * Called once per received frame (Ethernet header included, no FCS). The
 * frame is only valid during the call: drivers reuse their buffers, so a
 * listener that keeps bytes copies them.
 */
export type FrameListener = (frame: Uint8Array) => void;

export interface Netif extends Device {
  /** The interface's MAC address, 6 bytes. */
  readonly mac: Uint8Array;
  /** Payload MTU: the largest frame is mtu + 14 bytes (Ethernet II header, no VLAN tag, no FCS). */
  readonly mtu: number;
  /**
   * Sends a frame (Ethernet header included). Never blocks: the driver copies
   * or transmits the frame before returning, so the caller may reuse the buffer
   * at once. Returns false, and counts a drop, when a queue is full or the link
   * is down; a malformed frame counts as a tx error.
   */
  write(frame: Uint8Array): boolean;
  /**
   * Sets the one listener for received frames (replacing any earlier one);
   * delivery is never synchronous with a `write` on the same link.
   */
  listen(listener: FrameListener): void;
  readonly stats: NetifStats;
}
export const Netif = signature<Netif>()("atoll.netif/1");
