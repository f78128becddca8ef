// Attaching host resources to an image's slots: checking the attachments
// against the manifest (every problem at once, before anything starts), then
// opening them — disk images through @atoll/block/node's file driver (with
// its exclusive lock), TAP devices through @atoll/netif-tap, named switches
// through the host relay. A failure closes what was opened and reports each
// slot's problem in words a terminal user can act on.

import { randomBytes } from "node:crypto";
import type { Block } from "@atoll/block";
import { AtollError, isAtollError } from "@atoll/core";
import type { KvRo, KvRw } from "@atoll/kv";
import type { Netif } from "@atoll/netif";
import { providedKinds, type SlotKind, slotKinds } from "../abi.js";
import type { ParsedImage } from "../manifest.js";
import type { SlotSpec } from "./layout.js";
import { joinSwitch } from "./switch.js";

/** A slot cannot be attached as asked: missing, unknown, of another kind, or the host resource failed. */
export class AttachError extends AtollError {
  readonly problems: readonly string[];
  constructor(code: "ATOLL_SLOT_INVALID" | "ATOLL_ATTACH_FAILED", problems: readonly string[]) {
    super(
      code,
      problems.length === 1
        ? problems[0]!
        : `${problems.length} problems:\n  ${problems.join("\n  ")}`,
    );
    this.problems = problems;
  }
}

/**
 * How a network slot is attached: `tapN` or `tap:IFNAME` (a TAP interface),
 * `switch:NAME` (a port on the host's named switch), or, programmatically, a
 * host Netif.
 */
export type NetAttachment = string | Netif;

/** A disk image by path; read-only images are shared, read-write ones locked. */
export interface BlockPath {
  readonly path: string;
  readonly readOnly?: boolean;
}

/** How a block slot is attached: a disk image path (read-write), a BlockPath, or a host Block. */
export type BlockAttachment = string | BlockPath | Block;

/**
 * How a kv slot is attached: a host directory (read-write for a KvRw slot,
 * read-only for a KvRo slot), or, programmatically, a host store.
 */
export type KvAttachment = string | KvRo | KvRw;

export interface Attachments {
  readonly net?: Readonly<Record<string, NetAttachment>>;
  readonly block?: Readonly<Record<string, BlockAttachment>>;
  readonly kv?: Readonly<Record<string, KvAttachment>>;
}

const kindWords: Record<SlotKind, string> = {
  console: "console",
  clock: "monotonic clock",
  wallclock: "wall clock",
  time: "timer",
  random: "random generator",
  net: "network",
  block: "block",
  kv: "key-value",
};

const hintOf = (kind: SlotKind) => (kind === "net" ? netHint : kind === "kv" ? "DIR" : "PATH");

const netForm = /^(tap\d+|tap:[^\s/:%]{1,15}|switch:[\w.-]{1,64})$/;
const netHint = "tapN|tap:IFNAME|switch:NAME";
const isBlockDevice = (value: BlockAttachment): value is Block =>
  typeof value === "object" && typeof (value as Block).info === "function";
const isKvStore = (value: KvAttachment): value is KvRo =>
  typeof value === "object" && typeof (value as KvRo).get === "function";
const isNetif = (value: NetAttachment): value is Netif => typeof value !== "string";

/** Checks the attachments against the image's slots; every problem, before anything starts. */
export function checkAttachments(image: ParsedImage, attachments: Attachments): string[] {
  const problems: string[] = [];
  const { slots, name } = image.manifest;
  const given = new Map<string, "net" | "block" | "kv">();
  for (const kind of ["net", "block", "kv"] as const)
    for (const slot of Object.keys(attachments[kind] ?? {})) {
      if (given.has(slot))
        problems.push(
          `slot "${slot}" is attached twice (--${given.get(slot)}:${slot} and --${kind}:${slot})`,
        );
      given.set(slot, kind);
    }
  const list = Object.keys(slots);
  for (const [slot, kind] of given) {
    const id = slots[slot];
    if (id === undefined) {
      problems.push(
        `unknown slot "${slot}" (--${kind}:${slot}): ${name} has ${list.length === 0 ? "no slots" : `slots ${list.map((s) => `"${s}"`).join(", ")}`}`,
      );
      continue;
    }
    const slotKind = slotKinds[id]!;
    if (providedKinds.has(slotKind)) {
      problems.push(
        `slot "${slot}" is a ${kindWords[slotKind]} slot (${id}), which the tender provides itself: drop --${kind}:${slot}`,
      );
    } else if (slotKind !== kind) {
      problems.push(
        `slot "${slot}" is a ${kindWords[slotKind]} slot (${id}), not a ${kindWords[kind]} slot: attach it with --${slotKind}:${slot}=${hintOf(slotKind)}`,
      );
    } else if (kind === "net") {
      const value = attachments.net![slot]!;
      if (!isNetif(value) && !netForm.test(value))
        problems.push(
          `--net:${slot}=${value}: expected tapN (a TAP interface such as tap0), tap:IFNAME (any TAP interface name) or switch:NAME`,
        );
    } else if (kind === "block") {
      const value = attachments.block![slot]!;
      const path =
        typeof value === "string" ? value : isBlockDevice(value) ? undefined : value.path;
      if (path === "") problems.push(`--block:${slot}= needs the path of a disk image`);
    } else if (kind === "kv") {
      if (attachments.kv![slot] === "")
        problems.push(`--kv:${slot}= needs the path of a directory`);
    }
  }
  for (const [slot, id] of Object.entries(slots)) {
    const kind = slotKinds[id]!;
    if (providedKinds.has(kind) || given.has(slot)) continue;
    problems.push(
      `slot "${slot}" (${id}) is not attached: give --${kind}:${slot}=${hintOf(kind)}${kind === "block" ? ` (or --block-ro:${slot}=PATH)` : ""}`,
    );
  }
  return problems;
}

/** The host resources behind an image's slots, open and ready to serve. */
export interface OpenedDevices {
  readonly specs: SlotSpec[];
  readonly net: Map<string, Netif>;
  readonly block: Map<string, Block>;
  readonly kv: Map<string, KvRo | KvRw>;
  close(): Promise<void>;
}

/** Opens every attached resource; on any failure closes what was opened and throws AttachError. */
export async function openDevices(
  image: ParsedImage,
  attachments: Attachments,
): Promise<OpenedDevices> {
  const specs: SlotSpec[] = [];
  const net = new Map<string, Netif>();
  const block = new Map<string, Block>();
  const kv = new Map<string, KvRo | KvRw>();
  const closers: Array<() => unknown> = [];
  const problems: string[] = [];
  for (const [name, signature] of Object.entries(image.manifest.slots)) {
    const kind = slotKinds[signature]!;
    try {
      if (kind === "net") {
        const netif = await openNet(attachments.net![name]!, closers);
        net.set(name, netif);
        const mac = [...netif.mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
        specs.push({ kind, name, signature, mac, mtu: netif.mtu });
      } else if (kind === "block") {
        const device = await openBlock(attachments.block![name]!, closers);
        block.set(name, device);
        const { sectorSize, sectorCount, readWrite } = device.info();
        specs.push({ kind, name, signature, sectorSize, sectorCount, readWrite });
      } else if (kind === "kv") {
        const readWrite = signature === "atoll.kv.rw/1";
        kv.set(name, await openKv(attachments.kv![name]!, readWrite, closers));
        specs.push({ kind, name, signature, readWrite });
      } else if (kind === "random") {
        specs.push({ kind, name, signature, seed: randomBytes(32).toString("hex") });
      } else {
        specs.push({ kind, name, signature });
      }
    } catch (error) {
      problems.push(`slot "${name}": ${describeFailure(kind, name, attachments, error)}`);
    }
  }
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  if (problems.length > 0) {
    await close();
    throw new AttachError("ATOLL_ATTACH_FAILED", problems);
  }
  return { specs, net, block, kv, close };
}

async function openKv(
  value: KvAttachment,
  readWrite: boolean,
  closers: Array<() => unknown>,
): Promise<KvRo | KvRw> {
  if (isKvStore(value)) return value;
  // The directory driver is host code: loaded only when an image has a kv slot.
  const { DirectoryKv } = await import("@atoll/kv/node");
  const { readOnlyView } = await import("@atoll/kv");
  // Modification times are the host's: this is the tender, not the image.
  const clock = { now: () => Date.now(), tzOffsetSeconds: () => undefined };
  const store = await DirectoryKv.open(value, readWrite ? clock : undefined);
  closers.push(async () => {
    if (readWrite) await store.flush();
    store.close();
  });
  return readWrite ? store : readOnlyView(store);
}

async function openBlock(value: BlockAttachment, closers: Array<() => unknown>): Promise<Block> {
  if (isBlockDevice(value)) return value;
  const { path, readOnly = false } = typeof value === "string" ? { path: value } : value;
  // The file driver is host code: loaded only when an image has a block slot.
  const { FileBlock } = await import("@atoll/block/node");
  const file = await FileBlock.open(path, { readOnly });
  closers.push(() => file.close());
  return file;
}

async function openNet(value: NetAttachment, closers: Array<() => unknown>): Promise<Netif> {
  if (isNetif(value)) return value;
  if (value.startsWith("switch:")) {
    const port = await joinSwitch(value.slice("switch:".length));
    closers.push(() => port.close());
    return port.netif;
  }
  const ifname = value.startsWith("tap:") ? value.slice(4) : value;
  // The TAP driver (a native addon) is loaded only when a slot asks for TAP.
  let openTap: typeof import("@atoll/netif-tap").openTap;
  try {
    ({ openTap } = await import("@atoll/netif-tap"));
  } catch (error) {
    throw new AttachError("ATOLL_ATTACH_FAILED", [
      `the TAP driver, @atoll/netif-tap, cannot be loaded (${(error as Error).message}); install it next to @atoll/cli`,
    ]);
  }
  // The device gets its own random MAC (the image's), distinct from the Linux side's.
  const device = openTap({ name: ifname });
  closers.push(() => device.close());
  return device;
}

/** A host failure in words for the terminal, with the error code when there is one. */
function describeFailure(
  kind: SlotKind,
  slot: string,
  attachments: Attachments,
  error: unknown,
): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof AttachError) return message;
  if (isAtollError(error, "ATOLL_BLOCK_LOCKED")) {
    const value = attachments.block?.[slot];
    const path = typeof value === "string" ? value : (value as BlockPath | undefined)?.path;
    return `${message}; a disk image is written by one image at a time: stop the other, or attach it read-only with --block-ro:${slot}=${path}`;
  }
  if (isAtollError(error) && kind === "kv") {
    const value = attachments.kv?.[slot];
    return `--kv:${slot}=${String(value)}: ${message} [${error.code}]`;
  }
  if (isAtollError(error) && kind === "net") {
    const value = attachments.net?.[slot];
    return `--net:${slot}=${String(value)}: ${message} [${error.code}]`;
  }
  if (isAtollError(error)) return `${message} [${error.code}]`;
  return message;
}
