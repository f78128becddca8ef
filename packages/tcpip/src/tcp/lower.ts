// The boundary between TCP (src/tcp/, a transport over any IPv4 layer) and
// the IPv4 layer of the direct stack. TCP is tested on its own over an
// in-memory implementation of TcpLower; the stack provides the real one.

/**
 * What TCP needs from IPv4. Segments are built in place: `allocate` returns a
 * buffer with `headroom` free bytes before `offset`, so the IPv4 and Ethernet
 * headers are written in front of the TCP header without copying.
 */
export interface TcpLower {
  /** Bytes the lower layers need in front of a TCP segment (IPv4 + Ethernet headers). */
  readonly headroom: number;
  /** The source address for packets to `dst`, or undefined when there is no route or no address. */
  sourceFor(dst: number): number | undefined;
  /** Largest TCP segment (header + payload) that fits one unfragmented IPv4 packet to `dst`. */
  maxSegmentSize(dst: number): number;
  /**
   * A buffer for a segment of up to `length` bytes starting at `offset`
   * (offset >= headroom). Buffers come from a pool: one is valid until passed to `send`.
   */
  allocate(length: number): { buffer: Uint8Array; offset: number };
  /**
   * Sends the segment at buffer[offset, offset+length) (checksum already
   * filled in) to `dst` in one IPv4 packet, and takes the buffer back. Returns
   * false when the packet was dropped (no route, ARP pending queue full, link queue full).
   */
  send(src: number, dst: number, buffer: Uint8Array, offset: number, length: number): boolean;
}

/** What the IPv4 layer calls on TCP. */
export interface TcpUpper {
  /**
   * A received TCP segment (header + payload) whose IPv4 header was valid:
   * segment[offset, offset+length) (by default the whole array), so that the
   * IPv4 layer need not make a view per packet. The bytes are only valid
   * during the call. TCP verifies the checksum.
   */
  receive(src: number, dst: number, segment: Uint8Array, offset?: number, length?: number): void;
  /** An ICMP destination-unreachable or similar error quoting a segment we sent (RFC 5927 checks apply). */
  icmpError?(
    src: number,
    dst: number,
    quotedSegment: Uint8Array,
    kind: "unreachable" | "port-unreachable" | "frag-needed",
    mtu?: number,
  ): void;
}
