// @atoll/tcpip/socket: the Stack signature over host sockets (node:net,
// node:dgram), so an application runs unchanged on Atoll's own stack or the
// host's. `socketStack()` is the driver; `createSocketStack()` builds one directly.

import { arg, driver } from "@atoll/core";
import { Stack } from "./signature.js";
import { createSocketStack, type SocketStack, type SocketStackOptions } from "./socket/stack.js";

export { mapSocketError, PingUnsupportedError } from "./socket/errors.js";
export { SocketFlow } from "./socket/flow.js";
export {
  createSocketStack,
  type SocketStack,
  type SocketStackOptions,
  type SocketStackStats,
} from "./socket/stack.js";

/**
 * The socket stack as a driver. It needs no devices. Runtime argument:
 * `--bind=ADDRESS`, the address listeners bind to (default `options.bind`,
 * else 127.0.0.1; use 0.0.0.0 to listen on every interface).
 */
export const socketStack = (options: Omit<SocketStackOptions, "log"> = {}) =>
  driver({
    name: "stack.socket",
    provides: Stack,
    args: {
      bind: arg.ipv4({
        doc: "the address TCP and UDP listeners bind to (0.0.0.0 for every interface)",
        env: "ATOLL_SOCKET_BIND",
        default: options.bind ?? "127.0.0.1",
      }),
    },
    connect(_devices, { bind }, { log }) {
      return createSocketStack({ bind, log });
    },
    disconnect: (stack) => (stack as SocketStack).close(),
  });
