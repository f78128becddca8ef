// __NAME__'s sealed image (`npm run image`): Atoll's own TCP/IP stack is built
// in, over a network slot that `atoll run` attaches (--net:netif=tap0 or
// --net:netif=switch:NAME); clocks, time and randomness come from the tender.
import { image } from "@atoll/cli/image";
import { direct } from "@atoll/tcpip";
import { __Name__ } from "./unikernel.js";

export default image(__Name__, { bindings: { stack: direct() } });
