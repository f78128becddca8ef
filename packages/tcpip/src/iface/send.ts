// What the interface tells its protocols about a send, and the headroom they
// leave for it (its own module, so that ICMP and UDP need not import the
// interface that imports them).

import { ETHERNET_HEADER_LENGTH } from "../wire/ethernet.js";
import { IPV4_HEADER_LENGTH } from "../wire/ipv4.js";

/** Bytes in front of a transport header: Ethernet and a 20-byte IPv4 header. */
export const HEADROOM = ETHERNET_HEADER_LENGTH + IPV4_HEADER_LENGTH;

/** What a send did with the datagram. */
export const SendResult = {
  /** Handed to the link. */
  SENT: 0,
  /** Waiting for ARP; the `done` callback says later whether it was sent. */
  QUEUED: 1,
  /** No route to the destination, or no address configured. */
  NO_ROUTE: 2,
  /** The link or the ARP queue refused it. */
  DROPPED: 3,
} as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];
