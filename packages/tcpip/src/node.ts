// @atoll/tcpip/node: Node adapters for Flows (a stream.Duplex for node:http and node:tls).
// (to be implemented)
export {};
