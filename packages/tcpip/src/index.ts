// @atoll/tcpip: the Stack signature, Atoll's direct TCP/IP stack and the socket stack.
export * from "./errors.js";
export * from "./signature.js";
export { finishChecksum, internetChecksum, pseudoHeaderSum, sumWords } from "./wire/checksum.js";
