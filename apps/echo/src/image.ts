// echo's image entry for `atoll build`: Atoll's own TCP/IP stack is sealed
// inside the image, over a network slot the tender attaches (a TAP device or
// a switch); console, clocks, time and random come from the tender too.
import { image } from "@atoll/cli/image";
import { direct } from "@atoll/tcpip";
import { Echo } from "./unikernel.js";

export default image(Echo, { bindings: { stack: direct() } });
