// Network errors, each with a stable code.

import { AtollError } from "@atoll/core";

export class ConnectionRefusedError extends AtollError {
  constructor(address: string, port: number) {
    super("ATOLL_TCP_REFUSED", `connection to ${address}:${port} refused`);
  }
}

export class ConnectionResetError extends AtollError {
  constructor(detail = "connection reset by peer") {
    super("ATOLL_TCP_RESET", detail);
  }
}

/** A handshake, a retransmission or a ping gave up. */
export class NetworkTimeoutError extends AtollError {
  constructor(what: string) {
    super("ATOLL_NET_TIMEOUT", `${what} timed out`);
  }
}

/** TCP gave up retransmitting (RFC 9293 R2). */
export class ConnectionTimeoutError extends AtollError {
  constructor(detail = "connection timed out") {
    super("ATOLL_TCP_TIMEOUT", detail);
  }
}

export class NetworkUnreachableError extends AtollError {
  constructor(address: string, detail = "no route") {
    super("ATOLL_NET_UNREACHABLE", `${address} is unreachable: ${detail}`);
  }
}

export class AddressInUseError extends AtollError {
  constructor(what: string) {
    super("ATOLL_ADDRESS_IN_USE", `${what} is already in use`);
  }
}

/** Writing after shutdown, or using a closed connection. */
export class ConnectionClosedError extends AtollError {
  constructor(detail = "connection is closed") {
    super("ATOLL_TCP_CLOSED", detail);
  }
}
