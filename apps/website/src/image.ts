// website's image entry for `atoll build`: Atoll's own TCP/IP and HTTP are
// sealed inside the image, and so is the site/ directory (a static store
// captured at build time); the network slot is attached by the tender
// (a TAP device or a switch), as are console, clocks, time and random.
import site from "static-kv:../site";
import { image } from "@atoll/cli/image";
import { staticKv } from "@atoll/kv";
import { direct } from "@atoll/tcpip";
import { Website } from "./unikernel.js";

export default image(Website, { bindings: { stack: direct(), assets: staticKv(site) } });
