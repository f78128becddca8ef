// The one error base class of Atoll. Every error a package raises extends
// AtollError with a stable `code`; the Symbol.for brand lets isAtollError
// recognise errors thrown by another installed copy of @atoll/core.

const brand = Symbol.for("atoll.error");

export interface AtollErrorOptions {
  readonly cause?: unknown;
}

export class AtollError extends Error {
  /** Stable, documented identifier of the condition, e.g. `ATOLL_TCP_RESET`. */
  readonly code: string;

  constructor(code: string, message: string, options?: AtollErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, brand, { value: true, enumerable: false });
  }
}

/** True for any AtollError, from this or any other copy of @atoll/core; optionally of one code. */
export function isAtollError(value: unknown, code?: string): value is AtollError {
  if (typeof value !== "object" || value === null) return false;
  if ((value as { [brand]?: unknown })[brand] !== true) return false;
  return code === undefined || (value as AtollError).code === code;
}

/** A runtime argument is missing or malformed. The message names the argument and the expected form. */
export class ArgumentError extends AtollError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super("ATOLL_ARG_INVALID", message);
    this.argument = argument;
  }
}

/** The bindings given to a unikernel do not form a valid device graph. */
export class BindingError extends AtollError {
  readonly device: string;
  constructor(code: BindingErrorCode, device: string, message: string) {
    super(code, message);
    this.device = device;
  }
}

export type BindingErrorCode =
  | "ATOLL_BINDING_MISSING"
  | "ATOLL_BINDING_MISMATCH"
  | "ATOLL_BINDING_AMBIGUOUS"
  | "ATOLL_BINDING_CYCLE"
  | "ATOLL_BINDING_INVALID";

/** A device failed to connect; `cause` holds the driver's error. */
export class DeviceConnectError extends AtollError {
  readonly device: string;
  constructor(device: string, driverName: string, cause: unknown) {
    super(
      "ATOLL_DEVICE_CONNECT_FAILED",
      `device "${device}" (${driverName}) failed to connect: ${describeCause(cause)}`,
      { cause },
    );
    this.device = device;
  }
}

/** A device failed to disconnect cleanly during stop. */
export class DeviceDisconnectError extends AtollError {
  readonly device: string;
  constructor(device: string, driverName: string, cause: unknown) {
    super(
      "ATOLL_DEVICE_DISCONNECT_FAILED",
      `device "${device}" (${driverName}) failed to disconnect: ${describeCause(cause)}`,
      { cause },
    );
    this.device = device;
  }
}

/** The unikernel was used in a state that does not allow the operation (start twice, ...). */
export class LifecycleError extends AtollError {
  constructor(message: string) {
    super("ATOLL_LIFECYCLE", message);
  }
}

/** An operation was cancelled through an AbortSignal. */
export class AbortedError extends AtollError {
  constructor(message = "operation aborted", options?: AtollErrorOptions) {
    super("ATOLL_ABORTED", message, options);
  }
}

/** An operation on a device that has been disconnected. */
export class DisconnectedError extends AtollError {
  constructor(device: string) {
    super("ATOLL_DISCONNECTED", `${device} is disconnected`);
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
