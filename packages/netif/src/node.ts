// @atoll/netif/node: host-side helpers (pcap files).
// (to be implemented)
export {};
