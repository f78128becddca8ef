// A Netif over a Linux TAP device. Frames move in batches between the kernel
// and two fixed arenas: the receive arena, filled by the addon until EAGAIN and
// handed over in one call; and the transmit ring, filled by write() (which
// copies) and flushed by the addon once per microtask checkpoint.

import { constants } from "node:os";
import { type Logger, silentLogger } from "@atoll/core";
import {
  ETHERNET_HEADER,
  type FrameListener,
  formatMac,
  InvalidNetifOptionError,
  MAX_MTU,
  MIN_MTU,
  type Netif,
  NetifCounters,
} from "@atoll/netif";
import {
  EVENT_ERROR,
  EVENT_FRAMES,
  EVENT_WRITABLE,
  loadAddon,
  type NativeTapHandle,
  type TapAddon,
} from "./addon.js";
import { tapErrorFromSystemError } from "./errors.js";
import { randomMac, sameMac, toUnicastMac } from "./mac.js";

export interface TapOptions {
  /**
   * Interface name (at most 15 bytes); the device is created when it does not
   * exist. A `%d` lets the kernel pick a free number. Default `tap%d`.
   */
  readonly name?: string;
  /**
   * The unikernel's own MAC address: the Netif's `mac`, the source of the
   * frames it sends. Default: a random locally administered address. It must
   * differ from the Linux side's address (`hostMac`).
   */
  readonly mac?: string | Uint8Array;
  /** The link MTU, set on the interface. Default: the interface's (1500 for a new device). */
  readonly mtu?: number;
  /** The Linux side's MAC address, set with SIOCSIFHWADDR. Default: the kernel's. */
  readonly hostMac?: string | Uint8Array;
  /** Most frames read per batch (one call into JavaScript). Default 64 (fewer for jumbo MTUs). */
  readonly rxBatch?: number;
  /** Most frames waiting to be written; write() drops beyond. Default 256 (fewer for jumbo MTUs). */
  readonly txQueue?: number;
  /** The clone device. Default `/dev/net/tun`. */
  readonly clonePath?: string;
}

/** A Netif on a TAP device, with what the Linux side needs to know about it. */
export interface TapNetif extends Netif {
  /** The interface name on the Linux side (`tap0`). */
  readonly name: string;
  readonly ifindex: number;
  /** The Linux side's MAC address (not the Netif's own `mac`). */
  readonly hostMac: Uint8Array;
  /** False once closed, or once the device failed (for example deleted under us). */
  readonly up: boolean;
  /** Flushes what is queued, stops polling and closes the descriptor. Idempotent. */
  close(): void;
}

const DEFAULT_RX_BATCH = 64;
const DEFAULT_TX_QUEUE = 256;
// Arena budgets that cap the default batch and queue sizes for jumbo MTUs.
const RX_ARENA_BUDGET = 1 << 20;
const TX_ARENA_BUDGET = 4 << 20;

export function checkRange(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InvalidNetifOptionError(
      option,
      `expected an integer in [${min}, ${max}], got ${value}`,
    );
  return value;
}

/** Why `name` is not a valid interface name for the kernel, or undefined when it is. */
export function interfaceNameProblem(name: string): string | undefined {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0) return "it is empty";
  if (bytes > 15) return "it is longer than 15 bytes";
  if (name === "." || name === "..") return "it is . or ..";
  if (/[/:\s]/.test(name)) return "it contains /, : or whitespace";
  if ((name.match(/%/g) ?? []).length > 1 || (name.includes("%") && !name.includes("%d")))
    return "its only % may be a %d";
  return undefined;
}

// errno number → name; the first name wins where two share a number (EAGAIN, EWOULDBLOCK).
const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno))
  if (!errnoNames.has(value)) errnoNames.set(value, name);
// Node does not list it; a TAP descriptor whose interface was deleted reads it (Linux's value).
if (!errnoNames.has(77)) errnoNames.set(77, "EBADFD");

/** Exported for tests, which drive it with a fake native handle. */
export class TapDevice implements TapNetif {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly name: string;
  readonly ifindex: number;
  readonly hostMac: Uint8Array;
  readonly stats = new NetifCounters();
  readonly #log: Logger;
  readonly #maxFrame: number;
  readonly #slotSize: number;
  readonly #rxArena: Uint8Array;
  readonly #rxLengths: Int32Array;
  readonly #txArena: Uint8Array;
  readonly #txLengths: Int32Array;
  readonly #txSlots: number;
  readonly #status = new Int32Array(3);
  #handle: NativeTapHandle | undefined;
  #listener: FrameListener | undefined;
  #up = false;
  #txHead = 0;
  #txCount = 0;
  #flushScheduled = false;
  #waitingWritable = false;

  constructor(
    info: { name: string; ifindex: number; mtu: number; hostMac: Uint8Array },
    mac: Uint8Array,
    sizes: { rxBatch: number | undefined; txQueue: number | undefined },
    log: Logger,
  ) {
    this.name = info.name;
    this.ifindex = info.ifindex;
    this.mtu = info.mtu;
    this.hostMac = info.hostMac;
    this.mac = mac;
    this.#log = log;
    this.#maxFrame = info.mtu + ETHERNET_HEADER;
    // A frame that fills its slot did not fit: the kernel truncates silently, so
    // a slot is one byte longer than the largest frame and such frames are dropped.
    this.#slotSize = Math.max(64, (this.#maxFrame + 1 + 7) & ~7);
    const rxSlots =
      sizes.rxBatch ??
      Math.max(4, Math.min(DEFAULT_RX_BATCH, Math.floor(RX_ARENA_BUDGET / this.#slotSize)));
    this.#txSlots =
      sizes.txQueue ??
      Math.max(16, Math.min(DEFAULT_TX_QUEUE, Math.floor(TX_ARENA_BUDGET / this.#slotSize)));
    this.#rxArena = new Uint8Array(rxSlots * this.#slotSize);
    this.#rxLengths = new Int32Array(rxSlots);
    this.#txArena = new Uint8Array(this.#txSlots * this.#slotSize);
    this.#txLengths = new Int32Array(this.#txSlots);
  }

  /** Hands the descriptor to a native handle over this device's arenas and starts polling. */
  attach(addon: TapAddon, fd: number): void {
    let handle: NativeTapHandle;
    try {
      handle = new addon.TapHandle(
        fd,
        this.#rxArena,
        this.#rxLengths,
        this.#txArena,
        this.#txLengths,
        this.#slotSize,
        this.#status,
        this.#onEvent,
      );
    } catch (error) {
      addon.closeFd(fd);
      throw error;
    }
    try {
      handle.start();
    } catch (error) {
      handle.close();
      throw error;
    }
    this.#handle = handle;
    this.#up = true;
  }

  get up(): boolean {
    return this.#up;
  }

  listen(listener: FrameListener): void {
    this.#listener = listener;
  }

  write(frame: Uint8Array): boolean {
    const stats = this.stats;
    const length = frame.length;
    if (length < ETHERNET_HEADER || length > this.#maxFrame) {
      stats.txErrors++;
      return false;
    }
    if (!this.#up || this.#txCount === this.#txSlots) {
      stats.txDropped++;
      return false;
    }
    let slot = this.#txHead + this.#txCount;
    if (slot >= this.#txSlots) slot -= this.#txSlots;
    this.#txArena.set(frame, slot * this.#slotSize);
    this.#txLengths[slot] = length;
    this.#txCount++;
    stats.txPackets++;
    stats.txBytes += length;
    if (!this.#flushScheduled && !this.#waitingWritable) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return true;
  }

  close(): void {
    const handle = this.#handle;
    if (handle === undefined) return;
    if (this.#up) this.#flush();
    this.#dropQueued();
    this.#handle = undefined;
    this.#up = false;
    handle.close();
  }

  // Writes what is queued in one call into the addon; at EAGAIN the rest waits for a writable wake-up.
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const handle = this.#handle;
    if (handle === undefined || this.#txCount === 0 || this.#waitingWritable) return;
    const head = this.#txHead;
    const done = handle.flush(head, this.#txCount);
    if (this.#status[0]! > 0) this.#countRefused(head, done);
    this.#txHead = (head + done) % this.#txSlots;
    this.#txCount -= done;
    if (this.#txCount > 0 && this.#status[2] === 1) {
      this.#waitingWritable = true;
      handle.wantWritable();
    }
  };

  // Frames the kernel refused were counted as sent when queued; move them to the drops.
  #countRefused(head: number, done: number): void {
    const stats = this.stats;
    for (let i = 0; i < done; i++) {
      const slot = (head + i) % this.#txSlots;
      const length = this.#txLengths[slot]!;
      if (length >= 0) continue;
      stats.txPackets--;
      stats.txBytes += length;
      stats.txDropped++;
    }
    this.#log.debug("the kernel refused frames", {
      device: this.name,
      frames: this.#status[0],
      errno: errnoNames.get(this.#status[1]!) ?? this.#status[1],
    });
  }

  #dropQueued(): void {
    const stats = this.stats;
    for (let i = 0; i < this.#txCount; i++) {
      const slot = (this.#txHead + i) % this.#txSlots;
      stats.txPackets--;
      stats.txBytes -= this.#txLengths[slot]!;
      stats.txDropped++;
    }
    this.#txCount = 0;
  }

  readonly #onEvent = (kind: number, value: number): void => {
    if (kind === EVENT_FRAMES) this.#deliver(value);
    else if (kind === EVENT_WRITABLE) {
      this.#waitingWritable = false;
      this.#flush();
    } else if (kind === EVENT_ERROR) this.#fail(value);
  };

  #deliver(count: number): void {
    const stats = this.stats;
    const lengths = this.#rxLengths;
    const arena = this.#rxArena;
    const slotSize = this.#slotSize;
    const maxFrame = this.#maxFrame;
    for (let i = 0; i < count; i++) {
      const length = lengths[i]!;
      if (length < ETHERNET_HEADER) {
        stats.rxErrors++;
        continue;
      }
      const listener = this.#listener;
      if (length > maxFrame || listener === undefined) {
        stats.rxDropped++;
        continue;
      }
      stats.rxPackets++;
      stats.rxBytes += length;
      const start = i * slotSize;
      try {
        listener(arena.subarray(start, start + length));
      } catch (error) {
        this.#log.error("frame listener threw", { device: this.name, error });
      }
      // The listener may have closed the device; the arena is no longer ours to read.
      if (this.#handle === undefined) return;
    }
  }

  #fail(errno: number): void {
    const code = errnoNames.get(errno) ?? String(errno);
    this.#log.error("TAP device failed; the link is down", { device: this.name, errno: code });
    this.#up = false;
    this.#dropQueued();
  }
}

export interface ResolvedTapOptions extends TapOptions {
  readonly log?: Logger;
}

/**
 * Opens (creating if needed) a TAP device and returns it as a Netif, polling
 * for frames until `close()`. Synchronous: the device is ready on return.
 */
export function openTap(options: ResolvedTapOptions = {}): TapNetif {
  const addon = loadAddon();
  const name = options.name ?? "tap%d";
  const nameProblem = interfaceNameProblem(name);
  if (nameProblem !== undefined)
    throw new InvalidNetifOptionError("name", `"${name}" is not an interface name: ${nameProblem}`);
  const mac = options.mac === undefined ? randomMac() : toUnicastMac(options.mac);
  const hostMac = options.hostMac === undefined ? null : toUnicastMac(options.hostMac, "hostMac");
  const mtu = options.mtu === undefined ? 0 : checkRange("mtu", options.mtu, MIN_MTU, MAX_MTU);
  if (options.rxBatch !== undefined) checkRange("rxBatch", options.rxBatch, 1, 65536);
  if (options.txQueue !== undefined) checkRange("txQueue", options.txQueue, 1, 65536);
  const clonePath = options.clonePath ?? "/dev/net/tun";

  let opened: ReturnType<typeof addon.open>;
  try {
    opened = addon.open(clonePath, name, mtu, hostMac);
  } catch (error) {
    throw tapErrorFromSystemError(error, name, clonePath);
  }
  if (sameMac(mac, opened.hostMac)) {
    addon.closeFd(opened.fd);
    throw new InvalidNetifOptionError(
      "mac",
      `${formatMac(mac)} is also the address of the Linux side of ${opened.name}: ` +
        "frames sent to it would stay in Linux (a bridge delivers them to the host). " +
        "The Netif's address is the unikernel's own, like a virtual machine's NIC; choose another",
    );
  }
  let device: TapDevice;
  try {
    device = new TapDevice(
      opened,
      mac,
      { rxBatch: options.rxBatch, txQueue: options.txQueue },
      options.log ?? silentLogger,
    );
  } catch (error) {
    addon.closeFd(opened.fd);
    throw error;
  }
  device.attach(addon, opened.fd);
  return device;
}
