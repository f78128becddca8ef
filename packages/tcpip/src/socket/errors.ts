// Node's socket errors (`err.code` from libuv) mapped to Atoll's typed errors,
// so that an application sees the same codes on the socket stack as on the
// direct one. The original error is kept as `cause`.

import { AbortedError, AtollError } from "@atoll/core";
import {
  AddressInUseError,
  ConnectionClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  ConnectionTimeoutError,
  NetworkUnreachableError,
} from "../errors.js";

/** ICMP needs a raw socket on the host, which Node does not offer: ping is not available on the socket stack. */
export class PingUnsupportedError extends AtollError {
  constructor() {
    super(
      "ATOLL_NET_UNSUPPORTED",
      "ping is not supported on the socket stack: Node.js has no ICMP sockets (use the direct stack)",
    );
  }
}

/** A Node/libuv error for a connection to `address:port`, as an AtollError. */
export function mapSocketError(error: unknown, address: string, port: number): AtollError {
  if (error instanceof AtollError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  let mapped: AtollError;
  switch (code) {
    case "ECONNREFUSED":
      mapped = new ConnectionRefusedError(address, port);
      break;
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      mapped = new ConnectionResetError();
      break;
    case "ETIMEDOUT":
      mapped = new ConnectionTimeoutError();
      break;
    case "ENETUNREACH":
    case "EHOSTUNREACH":
    case "ENETDOWN":
    case "EHOSTDOWN":
    case "EADDRNOTAVAIL":
      mapped = new NetworkUnreachableError(address, String(code));
      break;
    case "EADDRINUSE":
      mapped = new AddressInUseError(`${address}:${port}`);
      break;
    case "ERR_STREAM_WRITE_AFTER_END":
    case "ERR_STREAM_DESTROYED":
    case "EBADF":
      mapped = new ConnectionClosedError();
      break;
    case "ABORT_ERR":
      mapped = new AbortedError("connect aborted");
      break;
    default:
      mapped = new AtollError(
        "ATOLL_NET_ERROR",
        `${address}:${port}: ${error instanceof Error ? error.message : String(error)}`,
      );
  }
  Object.defineProperty(mapped, "cause", { value: error, enumerable: false, configurable: true });
  return mapped;
}
