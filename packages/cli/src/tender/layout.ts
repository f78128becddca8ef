// Lays out the boundary memory for one image: the control block, the console
// rings, the boot information and each attached slot's rings.

import {
  ABI_VERSION,
  type BootInfo,
  type BootSlot,
  CONTROL_BYTES,
  Float,
  MAGIC,
  RING_HEADER_BYTES,
  type RingPlace,
  State,
  Word,
} from "../abi.js";

/** Ring capacities (bytes of data, powers of two). */
export const RingSizes = {
  consoleOut: 64 * 1024,
  consoleIn: 16 * 1024,
  net: 512 * 1024,
  block: 256 * 1024,
  kv: 256 * 1024,
} as const;

/** The largest block request payload (bytes); larger requests are split by the image. */
export const BLOCK_MAX_IO = 64 * 1024;

/** The largest kv message payload (bytes); larger values and lists cross in several. */
export const KV_MAX_IO = 64 * 1024;
/** The largest value a kv set may stage across the boundary (bytes). */
export const KV_MAX_VALUE = 64 * 1024 * 1024;

export type SlotSpec =
  | {
      readonly kind: "console" | "clock" | "wallclock" | "time";
      readonly name: string;
      readonly signature: string;
    }
  | {
      readonly kind: "random";
      readonly name: string;
      readonly signature: string;
      readonly seed: string;
    }
  | {
      readonly kind: "net";
      readonly name: string;
      readonly signature: string;
      readonly mac: string;
      readonly mtu: number;
    }
  | {
      readonly kind: "block";
      readonly name: string;
      readonly signature: string;
      readonly sectorSize: number;
      readonly sectorCount: number;
      readonly readWrite: boolean;
    }
  | {
      readonly kind: "kv";
      readonly name: string;
      readonly signature: string;
      readonly readWrite: boolean;
    };

export interface Layout {
  /** The initial contents of the memory (its length is the memory's size). */
  readonly memory: Uint8Array;
  readonly boot: BootInfo;
}

export function layoutMemory(
  slots: readonly SlotSpec[],
  argv: readonly string[],
  wallEpochMs: number,
  tzOffsetSeconds: number | null,
): Layout {
  let at = CONTROL_BYTES;
  const ring = (capacity: number): RingPlace => {
    const place: RingPlace = [at, capacity];
    at += RING_HEADER_BYTES + capacity;
    return place;
  };
  const console = { out: ring(RingSizes.consoleOut), in: ring(RingSizes.consoleIn) };
  const bootSlots: BootSlot[] = slots.map((spec, i): BootSlot => {
    const index = i + 1; // bit 0 is the machine's console
    switch (spec.kind) {
      case "net":
        return { ...spec, index, tx: ring(RingSizes.net), rx: ring(RingSizes.net) };
      case "block":
        return {
          ...spec,
          index,
          maxIo: BLOCK_MAX_IO,
          req: ring(RingSizes.block),
          resp: ring(RingSizes.block),
        };
      case "kv":
        return {
          ...spec,
          index,
          maxIo: KV_MAX_IO,
          maxValue: KV_MAX_VALUE,
          req: ring(RingSizes.kv),
          resp: ring(RingSizes.kv),
        };
      default:
        return { ...spec, index };
    }
  });
  const boot: BootInfo = {
    abi: ABI_VERSION,
    argv,
    wallEpochMs,
    tzOffsetSeconds,
    console,
    slots: bootSlots,
  };
  // ASCII only (other characters as \u escapes): the image reads it without a UTF-8 decoder.
  const json = new TextEncoder().encode(
    JSON.stringify(boot).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    ),
  );
  const bootOffset = at;
  const size = (bootOffset + json.length + 63) & ~63;
  const memory = new Uint8Array(size);
  const words = new Int32Array(memory.buffer);
  words[Word.magic] = MAGIC;
  words[Word.abi] = ABI_VERSION;
  words[Word.size] = size;
  words[Word.bootOffset] = bootOffset;
  words[Word.bootLength] = json.length;
  words[Word.state] = State.booting;
  new Float64Array(memory.buffer)[Float.deadline] = Number.POSITIVE_INFINITY;
  memory.set(json, bootOffset);
  return { memory, boot };
}
