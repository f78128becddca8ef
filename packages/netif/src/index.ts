// @atoll/netif: the Netif signature and its drivers.
export { type FrameListener, Netif, type NetifStats } from "./signature.js";
