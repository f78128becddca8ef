// Errors raised by @atoll/netif. Frames never raise: bad frames are counted
// and dropped. Only configuration mistakes throw.

import { AtollError } from "@atoll/core";

/** An option given to a netif driver, the switch or a wrapper is out of range or malformed. */
export class InvalidNetifOptionError extends AtollError {
  readonly option: string;
  constructor(option: string, message: string) {
    super("ATOLL_NETIF_INVALID_OPTION", `${option}: ${message}`);
    this.option = option;
  }
}

export function checkInteger(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidNetifOptionError(
      option,
      `expected an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

export function checkNumber(option: string, value: number, min: number, max: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
    throw new InvalidNetifOptionError(
      option,
      `expected a number in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}
