// Runs echo on Node. `--net=socket` (the default) binds the host's sockets;
// `--net=tap` (or its older name `--net=direct`) runs Atoll's own TCP/IP over
// a Linux TAP device (needs CAP_NET_ADMIN), configured by --tap, --ipv4 (an
// address, or dhcp) and --ipv4-gateway. The website takes the same --net values.
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { direct } from "@atoll/tcpip";
import { socketStack } from "@atoll/tcpip/socket";
import { Echo } from "./unikernel.js";

const given = process.argv.slice(2);
const netFlag = given.find((a) => a.startsWith("--net="));
const argv = given.filter((a) => a !== netFlag);
const net = netFlag?.slice("--net=".length) ?? "socket";

if (net === "socket") {
  await runMain(Echo({ stack: socketStack() }), { argv });
} else if (net === "tap" || net === "direct") {
  // Loaded only here: the TAP driver's native addon is of no use to the socket stack.
  const { tap } = await import("@atoll/netif-tap");
  const { clock, time, random } = nodeDefaults();
  await runMain(Echo({ stack: direct(), netif: tap(), clock, time, random }), { argv });
} else {
  process.stderr.write(`echo: --net: expected "socket" or "tap", got ${JSON.stringify(net)}\n`);
  process.exit(2);
}
