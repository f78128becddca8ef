// @atoll/netif-tap: a Netif on a Linux TAP device, through a small N-API addon.
// Host-only (Node on Linux); the package imports everywhere and reports an
// unsupported platform when a device is opened elsewhere.

export { tapUnavailableReason } from "./availability.js";
export { tap } from "./driver.js";
export {
  TapAddonMissingError,
  TapBusyError,
  TapError,
  type TapErrorCode,
  type TapErrorDetails,
  TapNameConflictError,
  TapNotAvailableError,
  TapOpenError,
  TapPermissionError,
  TapUnsupportedPlatformError,
  tapErrorFromSystemError,
} from "./errors.js";
export { openTap, type ResolvedTapOptions, type TapNetif, type TapOptions } from "./tap.js";
