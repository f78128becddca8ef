// Runs __NAME__ on Node, on the host's sockets: `npm start -- --port=8080`.
import { runMain } from "@atoll/platform/node";
import { socketStack } from "@atoll/tcpip/socket";
import { __Name__ } from "./unikernel.js";

await runMain(__Name__({ stack: socketStack() }));
