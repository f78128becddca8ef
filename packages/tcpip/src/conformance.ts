// @atoll/tcpip/conformance: the Stack conformance suite that every stack runs.
// (to be implemented)
export {};
