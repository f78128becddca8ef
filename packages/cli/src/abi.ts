// The boundary ABI between a sealed image and its tender, version 1: the
// layout of the shared memory both sides agree on. Platform-neutral: the
// image's runtime and the tender import the same constants. README.md
// ("The boundary ABI") is the specification; this file is its transcription.

/** The ABI version an image is built for and a tender speaks. */
export const ABI_VERSION = 1;

/** "ATLL" read as a little-endian 32-bit word, at byte 0 of the shared memory. */
export const MAGIC = 0x4c4c5441;

// The layout's names are enums: a bundler inlines their values, so an image
// carries numbers, not lookup tables.

/** Indexes of the 32-bit words of the control block (byte offset = index × 4). */
export enum Word {
  magic = 0,
  abi = 1,
  size = 2,
  bootOffset = 3,
  bootLength = 4,
  /** Tender → guest wake-up counter; the vCPU sleeps on it. */
  wake = 5,
  /** Guest → tender doorbell counter; the tender waits on it. */
  doorbell = 6,
  /** 0 booting, 1 running, 2 exited. */
  state = 7,
  exitStatus = 8,
  /** The tender sets 1 to ask the image to stop; the guest clears it when it starts stopping. */
  stop = 9,
  /** Ready set: bit i of ready0/ready1 says slot i (0..63) has something to look at. */
  ready0 = 10,
  ready1 = 11,
  /** The guest sets 1 after producing into a ring; the vCPU rings the doorbell after the turn. */
  pending = 12,
}

/** Indexes of the 64-bit float fields (byte offset = index × 8). */
export enum Float {
  /** Nanoseconds on the monotonic clock since boot, written by the vCPU before every turn. */
  now = 8,
  /** Earliest timer deadline in ns (Infinity: none), written by the guest. */
  deadline = 9,
}

export enum State {
  booting = 0,
  running = 1,
  exited = 2,
}

/** Bytes of the control block; rings and the boot information follow. */
export const CONTROL_BYTES = 128;

/** Ring header words (byte offset from the ring's start = index × 4). */
export enum RingWord {
  head = 0,
  tail = 1,
  flags = 2,
  drops = 3,
}
export const RING_HEADER_BYTES = 16;
/** An entry's length word with this value means: skip to the start of the ring. */
export const RING_WRAP = 0xffffffff;

/** Console-in ring flags: the image wants input (set by the image); input has ended (set by the tender). */
export enum ConsoleInFlag {
  wanted = 1,
  ended = 2,
}
/** Console-out ring flag, set by the image: raise the console's ready bit once you have consumed the ring. */
export enum ConsoleOutFlag {
  notify = 1,
}
/** Console-out entry tags (the payload's first byte). */
export enum ConsoleStream {
  out = 1,
  err = 2,
}

/** Block request and response layouts (bytes). */
export const BLOCK_REQUEST_HEADER = 24;
export const BLOCK_RESPONSE_HEADER = 16;
export enum BlockOp {
  read = 1,
  write = 2,
  flush = 3,
  discard = 4,
}
export enum BlockStatus {
  ok = 0,
  io = -1,
  outOfRange = -2,
  readOnly = -3,
  invalid = -4,
  unsupported = -5,
}

/**
 * Key-value request and response layouts (bytes). A request is the header,
 * then the key (UTF-8, `keyLength` bytes), the second key of a rename
 * (`key2Length` bytes), then the data of a set or setPartial. A response is
 * the header, then its payload (`dataLength` bytes).
 */
export const KV_REQUEST_HEADER = 32;
export const KV_RESPONSE_HEADER = 24;
/** The longest key (UTF-8 bytes) that crosses the boundary. */
export const KV_MAX_KEY = 4096;
/** The longest error message a response carries (UTF-8 bytes). */
export const KV_MAX_MESSAGE = 1024;
export enum KvOp {
  exists = 1,
  /** `length` bytes from `offset` (n1, n2); answers the value's total size in n. */
  read = 2,
  /** Entries from index n1 on; answers the entry count in n. */
  list = 3,
  lastModified = 4,
  digest = 5,
  size = 6,
  /** Bind the key to the staged data plus this request's data. */
  set = 7,
  /** Write the staged data plus this request's data at offset n1. */
  setPartial = 8,
  remove = 9,
  rename = 10,
  /** n1 = size, n2 = lastModified (NaN: now). */
  allocate = 11,
  flush = 12,
  /** Append this request's data to the staging buffer of the request id; no response. */
  stage = 13,
}
export enum KvStatus {
  ok = 0,
  io = -1,
  notFound = -2,
  dictionaryExpected = -3,
  valueExpected = -4,
  alreadyPresent = -5,
  renameSourcePrefix = -6,
  noSpace = -7,
  range = -8,
  invalidKey = -9,
  /** The tender refused a malformed request. */
  invalid = -10,
  readOnly = -11,
  /** The staged value exceeds the slot's maxValue. */
  tooLarge = -12,
}
/** List entry kinds (the first byte of each entry: kind u8, name length u16 LE, name UTF-8). */
export enum KvKind {
  none = 0,
  value = 1,
  dictionary = 2,
}

/** The most slots an image can declare (two 32-bit ready words). */
export const MAX_SLOTS = 64;

/** What kind of device serves a signature id across the boundary. */
export type SlotKind =
  | "console"
  | "clock"
  | "wallclock"
  | "time"
  | "random"
  | "net"
  | "block"
  | "kv";

/** Signature ids a tender of this ABI can serve, and the kind of device behind each. */
export const slotKinds: Readonly<Record<string, SlotKind>> = {
  "atoll.console/1": "console",
  "atoll.clock.monotonic/1": "clock",
  "atoll.clock.wall/1": "wallclock",
  "atoll.time/1": "time",
  "atoll.random/1": "random",
  "atoll.netif/1": "net",
  "atoll.block/1": "block",
  "atoll.kv.ro/1": "kv",
  "atoll.kv.rw/1": "kv",
};

/** Kinds the tender provides by itself; the others need an attachment on the command line. */
export const providedKinds: ReadonlySet<SlotKind> = new Set([
  "console",
  "clock",
  "wallclock",
  "time",
  "random",
]);

/** A ring's place in the shared memory: byte offset of its header and data capacity in bytes. */
export type RingPlace = readonly [offset: number, capacity: number];

interface SlotBase {
  readonly name: string;
  readonly signature: string;
  /** The slot's bit in the ready set. */
  readonly index: number;
}

export type BootSlot =
  | (SlotBase & { readonly kind: "console" | "clock" | "wallclock" | "time" })
  | (SlotBase & { readonly kind: "random"; readonly seed: string })
  | (SlotBase & {
      readonly kind: "net";
      readonly mac: string;
      readonly mtu: number;
      readonly tx: RingPlace;
      readonly rx: RingPlace;
    })
  | (SlotBase & {
      readonly kind: "block";
      readonly sectorSize: number;
      readonly sectorCount: number;
      readonly readWrite: boolean;
      readonly maxIo: number;
      readonly req: RingPlace;
      readonly resp: RingPlace;
    })
  | (SlotBase & {
      readonly kind: "kv";
      /** False for a KvRo slot (atoll.kv.ro/1) and for a read-only attachment. */
      readonly readWrite: boolean;
      /** The largest message payload (keys plus data, or response data) in bytes. */
      readonly maxIo: number;
      /** The largest value a set or setPartial may stage in bytes. */
      readonly maxValue: number;
      readonly req: RingPlace;
      readonly resp: RingPlace;
    });

/** The boot information: UTF-8 JSON at bootOffset, written by the tender before the image runs. */
export interface BootInfo {
  readonly abi: number;
  /** The application's arguments (what follows `--` on the tender's command line). */
  readonly argv: readonly string[];
  /** Wall-clock milliseconds since the Unix epoch at monotonic time 0. */
  readonly wallEpochMs: number;
  readonly tzOffsetSeconds: number | null;
  readonly console: { readonly out: RingPlace; readonly in: RingPlace };
  readonly slots: readonly BootSlot[];
}
