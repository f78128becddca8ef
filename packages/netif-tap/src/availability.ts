// Whether this process can open TAP devices, and if not why: for tests and
// tools that skip work needing TAP with a printed reason.

import { accessSync, constants, readFileSync } from "node:fs";
import { loadAddon } from "./addon.js";

const CAP_NET_ADMIN = 12n;

/** Undefined when TAP devices can be opened here; otherwise the reason they cannot. */
export function tapUnavailableReason(clonePath = "/dev/net/tun"): string | undefined {
  try {
    loadAddon();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  try {
    accessSync(clonePath, constants.R_OK | constants.W_OK);
  } catch {
    return `${clonePath} is missing or not readable and writable by this user`;
  }
  if (!hasNetAdmin()) return "this process lacks CAP_NET_ADMIN (run as root)";
  return undefined;
}

function hasNetAdmin(): boolean {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_NET_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}
