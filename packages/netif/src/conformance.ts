// @atoll/netif/conformance: the Netif conformance suite.
// (to be implemented)
export {};
