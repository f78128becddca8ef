// Loads the native addon (build/Release/atoll_tap.node, built by node-gyp at
// install time) and describes its interface. Loading is lazy, at connect, so
// the package imports everywhere and fails only when a TAP device is opened.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { TapAddonMissingError, TapUnsupportedPlatformError } from "./errors.js";

/** What `open` reports about the attached interface. */
export interface OpenedTap {
  readonly fd: number;
  /** The interface name (the kernel's choice when a `%d` pattern was given). */
  readonly name: string;
  readonly ifindex: number;
  readonly mtu: number;
  /** The Linux side's MAC address. */
  readonly hostMac: Uint8Array;
  /** Whether the interface was already up before open. */
  readonly wasUp: boolean;
}

/** Event kinds passed to a handle's event callback. */
export const EVENT_FRAMES = 0;
export const EVENT_WRITABLE = 1;
export const EVENT_ERROR = 2;

export interface NativeTapHandle {
  /** Starts polling the descriptor for readable frames. */
  start(): void;
  /** Asks for one EVENT_WRITABLE once the descriptor takes frames again. */
  wantWritable(): void;
  /**
   * Writes `count` frames from the transmit ring starting at slot `head`;
   * returns how many it consumed (fewer only when the kernel said EAGAIN).
   * status[0] = frames refused, status[1] = their last errno, status[2] = 1 on EAGAIN;
   * a refused frame's length is negated in the lengths array.
   */
  flush(head: number, count: number): number;
  /** Stops polling and closes the descriptor. Idempotent. */
  close(): void;
}

export interface TapAddon {
  open(clonePath: string, name: string, mtu: number, hostMac: Uint8Array | null): OpenedTap;
  closeFd(fd: number): void;
  TapHandle: new (
    fd: number,
    rxArena: Uint8Array,
    rxLengths: Int32Array,
    txArena: Uint8Array,
    txLengths: Int32Array,
    slotSize: number,
    status: Int32Array,
    onEvent: (kind: number, value: number) => void,
  ) => NativeTapHandle;
}

/** Where the addon is built; the same relative path from `src/` and from `dist/`. */
export const addonPath = fileURLToPath(new URL("../build/Release/atoll_tap.node", import.meta.url));

let loaded: TapAddon | undefined;

/**
 * Returns the native addon, loading it on first use. Throws
 * TapUnsupportedPlatformError off Linux and TapAddonMissingError when the
 * build is missing or broken.
 */
export function loadAddon(platform: string = process.platform): TapAddon {
  if (platform !== "linux") throw new TapUnsupportedPlatformError(platform);
  loaded ??= requireAddon(addonPath);
  return loaded;
}

/** Loads an addon file, turning any failure into TapAddonMissingError. */
export function requireAddon(path: string): TapAddon {
  try {
    return createRequire(import.meta.url)(path) as TapAddon;
  } catch (error) {
    throw new TapAddonMissingError(path, error);
  }
}
