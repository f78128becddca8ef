// @atoll/tcpip/socket: the Stack signature over host sockets (node:net, node:dgram).
// (to be implemented)
export {};
