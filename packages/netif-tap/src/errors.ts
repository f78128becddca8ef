// Typed errors of the TAP driver, and the one place that turns a failed
// system call (errno + which call) into them.

import { AtollError } from "@atoll/core";

export type TapErrorCode =
  | "ATOLL_TAP_UNSUPPORTED"
  | "ATOLL_TAP_ADDON_MISSING"
  | "ATOLL_TAP_NO_DEVICE"
  | "ATOLL_TAP_PERMISSION"
  | "ATOLL_TAP_BUSY"
  | "ATOLL_TAP_NAME_CONFLICT"
  | "ATOLL_TAP_FAILED";

export interface TapErrorDetails {
  /** The interface name asked for (`tap0`), when the error concerns one. */
  readonly device?: string | undefined;
  /** The errno name reported by the kernel (`EPERM`), for system-call failures. */
  readonly errno?: string | undefined;
  /** The system call or ioctl that failed (`open`, `TUNSETIFF`, `SIOCSIFMTU`, ...). */
  readonly syscall?: string | undefined;
  readonly cause?: unknown;
}

/** Text for any thrown value, even one whose conversion to a string throws. */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The base of every error the TAP driver raises. */
export class TapError extends AtollError {
  readonly device: string | undefined;
  readonly errno: string | undefined;
  readonly syscall: string | undefined;
  constructor(code: TapErrorCode, message: string, details: TapErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.device = details.device;
    this.errno = details.errno;
    this.syscall = details.syscall;
  }
}

/** TAP devices exist only on Linux here; thrown at connect on any other platform. */
export class TapUnsupportedPlatformError extends TapError {
  readonly platform: string;
  constructor(platform: string) {
    super(
      "ATOLL_TAP_UNSUPPORTED",
      `@atoll/netif-tap needs Linux (TAP devices through /dev/net/tun) and this is ${platform}; ` +
        "bind another Netif driver here (the memory switch of @atoll/netif) or use the socket stack",
    );
    this.platform = platform;
  }
}

/** The native addon was not built or does not load (its build at install time failed or was skipped). */
export class TapAddonMissingError extends TapError {
  constructor(path: string, cause: unknown) {
    super(
      "ATOLL_TAP_ADDON_MISSING",
      `the native addon of @atoll/netif-tap (${path}) is not built or does not load: ` +
        `${cause instanceof Error ? cause.message : describe(cause)}. It is built at install time ` +
        "with node-gyp and a C compiler; rebuild it with `pnpm rebuild @atoll/netif-tap` " +
        "(or `npm rebuild @atoll/netif-tap`) and read the build output",
      { cause },
    );
  }
}

/** `/dev/net/tun` is missing: no tun module, or a container without the device. */
export class TapNotAvailableError extends TapError {
  constructor(path: string, details: TapErrorDetails) {
    super(
      "ATOLL_TAP_NO_DEVICE",
      `${path} is not available (${details.errno ?? "missing"}): load the tun module ` +
        "(`modprobe tun`), or in a container pass the device (`--device /dev/net/tun` " +
        "with `--cap-add NET_ADMIN`)",
      details,
    );
  }
}

/** The process may not open or configure the TAP device. */
export class TapPermissionError extends TapError {
  constructor(message: string, details: TapErrorDetails) {
    super("ATOLL_TAP_PERMISSION", message, details);
  }
}

/** The TAP device is already attached to another descriptor (one reader per single-queue TAP). */
export class TapBusyError extends TapError {
  constructor(name: string, details: TapErrorDetails) {
    super(
      "ATOLL_TAP_BUSY",
      `TAP device ${name} is busy: another process (or another netif in this one) has it open, ` +
        "and a single-queue TAP device has one reader; close it or choose another name",
      details,
    );
  }
}

/** The name belongs to an interface that is not a single-queue TAP (a TUN, a bridge, `lo`, ...). */
export class TapNameConflictError extends TapError {
  constructor(name: string, details: TapErrorDetails) {
    super(
      "ATOLL_TAP_NAME_CONFLICT",
      `interface ${name} exists and is not a single-queue TAP device (it may be a TUN device, ` +
        "a multi-queue TAP or another kind of interface); choose another name",
      details,
    );
  }
}

/** Any other failure to open or configure the device; `errno` and `syscall` say which. */
export class TapOpenError extends TapError {
  constructor(message: string, details: TapErrorDetails) {
    super("ATOLL_TAP_FAILED", message, details);
  }
}

/** What the native addon throws: a Node-style system error. */
export interface SystemErrorLike {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly message?: unknown;
}

const capabilityHelp = (name: string) =>
  "needs CAP_NET_ADMIN: run as root, grant the capability to node " +
  "(`sudo setcap cap_net_admin+ep $(readlink -f $(which node))`), or have root create a " +
  `persistent device owned by you (\`sudo ip tuntap add dev ${name} mode tap user $USER\` ` +
  `then \`sudo ip link set ${name} up\`)`;

/**
 * Maps a failed system call of the addon to a typed TapError. `name` is the
 * interface asked for, `clonePath` the clone device (`/dev/net/tun`).
 */
export function tapErrorFromSystemError(
  error: unknown,
  name: string,
  clonePath = "/dev/net/tun",
): TapError {
  const e = (typeof error === "object" && error !== null ? error : {}) as SystemErrorLike;
  const errno = typeof e.code === "string" ? e.code : undefined;
  const syscall = typeof e.syscall === "string" ? e.syscall : undefined;
  const details: TapErrorDetails = { device: name, errno, syscall, cause: error };
  const denied = errno === "EPERM" || errno === "EACCES";
  // A name with %d is a pattern the kernel fills in; the help shows a concrete one.
  const shown = name === "" || name.includes("%") ? "tap0" : name;
  if (syscall === "open") {
    if (errno === "ENOENT" || errno === "ENODEV" || errno === "ENXIO")
      return new TapNotAvailableError(clonePath, details);
    if (denied)
      return new TapPermissionError(
        `cannot open ${clonePath} (${errno}): opening a TAP device ${capabilityHelp(shown)}, ` +
          `and ${clonePath} must be readable and writable by this user`,
        details,
      );
  }
  if (syscall === "TUNSETIFF") {
    if (denied)
      return new TapPermissionError(
        `cannot create or attach TAP device ${name} (${errno}): this ${capabilityHelp(shown)}`,
        details,
      );
    if (errno === "EBUSY") return new TapBusyError(name, details);
    if (errno === "EINVAL") return new TapNameConflictError(name, details);
  }
  if (syscall?.startsWith("SIOCS") && denied)
    return new TapPermissionError(
      `TAP device ${name} is attached but changing its settings (${syscall}) needs ` +
        `CAP_NET_ADMIN: configure it beforehand (\`sudo ip link set ${shown} mtu ... up\`) ` +
        "and open it without asking for changes, or run with the capability",
      details,
    );
  if (syscall === "SIOCSIFMTU" && errno === "EINVAL")
    return new TapOpenError(`the MTU asked for is out of range for TAP device ${name}`, details);
  const what = typeof e.message === "string" ? e.message : describe(error);
  return new TapOpenError(`cannot open TAP device ${name}: ${what}`, details);
}
