// Runs echo on Node. `--net=socket` (the default) binds the host's sockets;
// `--net=direct` is Atoll's own TCP/IP, which needs a host network interface
// driver (TAP) to reach anything outside the process.
import { runMain } from "@atoll/platform/node";
import { socketStack } from "@atoll/tcpip/socket";
import { Echo } from "./unikernel.js";

const given = process.argv.slice(2);
const netFlag = given.find((a) => a.startsWith("--net="));
const argv = given.filter((a) => a !== netFlag);
const net = netFlag?.slice("--net=".length) ?? "socket";

if (net === "socket") {
  await runMain(Echo({ stack: socketStack() }), { argv });
} else if (net === "direct") {
  process.stderr.write(
    "echo: --net=direct needs a host network interface driver (TAP, @atoll/netif-tap), which is not available yet; " +
      "the direct stack runs echo in the tests, on a memory switch\n",
  );
  process.exit(2);
} else {
  process.stderr.write(`echo: --net: expected "socket" or "direct", got ${JSON.stringify(net)}\n`);
  process.exit(2);
}
