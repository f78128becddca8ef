// Runs the website on Node. The same Website functor, three ways to bind it:
//   (default)   --net=socket  the host's sockets, 127.0.0.1:8080, no privileges;
//               --net=tap     Atoll's own TCP/IP over a Linux TAP device
//                             (--tap=NAME --ipv4=10.0.0.2/24; needs CAP_NET_ADMIN);
//   in tests:                 the direct stack on a MemorySwitch (test/).
// The files are the site/ directory embedded at build time (static-kv:), or
// read from disk on every request with --dev (edit and reload).

import site from "static-kv:../site";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { staticKv } from "@atoll/kv";
import { directoryKvRo } from "@atoll/kv/node";
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { direct } from "@atoll/tcpip";
import { socketStack } from "@atoll/tcpip/socket";
import { Website } from "./unikernel.js";

const USAGE = `Usage: node apps/website/dist/main.js [--net=socket|tap] [--dev] [arguments]

  --net=socket   serve on the host's sockets (default; --bind=127.0.0.1, --port=8080)
  --net=tap      run Atoll's own TCP/IP over a Linux TAP device: --tap=NAME,
                 --ipv4=ADDRESS/PREFIX, --ipv4-gateway=ADDRESS (root or CAP_NET_ADMIN)
  --dev          serve apps/website/site/ from disk (edits show on reload)
                 instead of the copy embedded at build time (--root=DIR to change it)

`;

const given = process.argv.slice(2);
const argv = given[0] === "--" ? given.slice(1) : [...given];
const take = (name: string): string | undefined => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const [flag] = argv.splice(i, 1);
  return flag!.includes("=") ? flag!.slice(flag!.indexOf("=") + 1) : "";
};
const net = take("net") ?? "socket";
const dev = take("dev");
if (argv.includes("--help") || argv.includes("-h")) process.stdout.write(USAGE);

const siteDir = fileURLToPath(new URL("../site", import.meta.url));
const assets =
  dev === undefined || dev === "false"
    ? staticKv(site)
    : directoryKvRo({ root: path.resolve(siteDir) });
const { console, clock, wallClock, time, random } = nodeDefaults();
const base = { console, clock, wallClock, time, assets };

if (net === "socket") {
  await runMain(Website({ ...base, stack: socketStack() }), { argv });
} else if (net === "tap") {
  // Loaded only here: the socket stack has no use for the TAP driver's native addon.
  const { tap } = await import("@atoll/netif-tap");
  await runMain(Website({ ...base, stack: direct(), netif: tap(), random }), { argv });
} else {
  process.stderr.write(`website: --net: expected "socket" or "tap", got ${JSON.stringify(net)}\n`);
  process.exit(2);
}
