// The tender's side of the network, block and kv rings: frames between a
// slot's rings and a host Netif, requests from a slot's ring to a host Block
// or key-value store. Every
// entry is copied out of shared memory before it is looked at, checked, and
// either served or counted as a violation; nothing the image writes can make
// the tender throw, read or write outside the rings, or queue without bound.

import type { Block } from "@atoll/block";
import type { KvEntry, KvRo, KvRw } from "@atoll/kv";
import type { Netif } from "@atoll/netif";
import {
  BLOCK_REQUEST_HEADER,
  BLOCK_RESPONSE_HEADER,
  BlockOp,
  BlockStatus,
  type BootSlot,
  KV_MAX_KEY,
  KV_MAX_MESSAGE,
  KV_REQUEST_HEADER,
  KV_RESPONSE_HEADER,
  KvKind,
  KvOp,
  KvStatus,
} from "../abi.js";
import { CopyingRingConsumer, type RingConsumer, RingProducer } from "../ring.js";

type NetSlot = Extract<BootSlot, { kind: "net" }>;
type BlockSlot = Extract<BootSlot, { kind: "block" }>;
type KvSlot = Extract<BootSlot, { kind: "kv" }>;

/** What a server reports to its tender. */
export interface ServerHost {
  /** Raises the slot's ready bit and wakes the vCPU. */
  raise(index: number): void;
  /** Records a broken rule of the ABI (the tender reports them when the image ends). */
  violation(message: string): void;
  /** False once the image has stopped. */
  readonly running: boolean;
}

/** Moves frames between a network slot's rings and a host Netif. */
export class NetServer {
  readonly #tx: RingConsumer;
  readonly #rx: RingProducer;

  constructor(
    readonly slot: NetSlot,
    readonly netif: Netif,
    memory: SharedArrayBuffer,
    readonly host: ServerHost,
  ) {
    this.#tx = new CopyingRingConsumer(memory, slot.tx, slot.mtu + 14);
    this.#rx = new RingProducer(memory, slot.rx);
    const rx = this.#rx;
    const max = slot.mtu + 14;
    netif.listen((frame) => {
      if (!host.running) return;
      if (frame.length > max || !rx.push(frame)) rx.countDrop();
      else host.raise(slot.index);
    });
  }

  /** Sends what the image queued. */
  serve(): void {
    const netif = this.netif;
    this.#tx.drain((frame) => {
      netif.write(frame);
    });
    const tx = this.#tx;
    if (tx.errors > 0) {
      this.host.violation(`network slot "${this.slot.name}" transmit ring: ${tx.lastError}`);
      tx.errors = 0;
    }
  }
}

interface SlotResponse {
  readonly header: Uint8Array;
  readonly data?: Uint8Array;
}

/**
 * A slot whose requests are served in order, one at a time (block and kv): a
 * request is taken off its ring only when the largest answer to it fits the
 * response ring, and the ring's errors are reported as violations.
 */
abstract class RequestServer<S extends BlockSlot | KvSlot> {
  readonly #req: RingConsumer;
  readonly #resp: RingProducer;
  /** Room an answer may need in the response ring. */
  readonly #responseSpace: number;
  #busy = false;

  constructor(
    readonly slot: S,
    memory: SharedArrayBuffer,
    readonly host: ServerHost,
    /** The largest request entry, and the fixed part of an answer. */
    sizes: { readonly request: number; readonly responseHeader: number },
    /** How violations name the slot's kind ("block", "kv"). */
    readonly kind: string,
  ) {
    this.#req = new CopyingRingConsumer(memory, slot.req, sizes.request);
    this.#resp = new RingProducer(memory, slot.resp);
    this.#responseSpace = sizes.responseHeader + slot.maxIo + 8;
  }

  /** Takes the queued requests (a no-op while a request is being served: it continues by itself). */
  serve(): void {
    if (!this.#busy) void this.#loop();
  }

  /** The answer to one request (copied out of the ring); undefined for a message answered later. */
  protected abstract answer(request: Uint8Array): Promise<SlotResponse | undefined>;

  async #loop(): Promise<void> {
    this.#busy = true;
    const { slot, host } = this;
    try {
      while (host.running) {
        let request: Uint8Array | undefined;
        this.#req.drain((entry) => {
          // Take a request only when its answer is sure to fit.
          if (this.#resp.free() < this.#responseSpace) return false;
          request = entry.slice();
        }, 1);
        if (this.#req.errors > 0) {
          host.violation(`${this.kind} slot "${slot.name}" request ring: ${this.#req.lastError}`);
          this.#req.errors = 0;
        }
        if (request === undefined) break;
        const response = await this.answer(request);
        if (response !== undefined) {
          if (!host.running) break;
          if (!this.#resp.push(response.header, response.data)) this.#resp.countDrop();
        }
        // Also after a message answered later: the image may be waiting for the room it took.
        host.raise(slot.index);
      }
    } finally {
      this.#busy = false;
    }
  }
}

/** Serves a block slot's requests from a host Block, in order, one at a time. */
export class BlockServer extends RequestServer<BlockSlot> {
  constructor(
    slot: BlockSlot,
    readonly device: Block,
    memory: SharedArrayBuffer,
    host: ServerHost,
  ) {
    super(
      slot,
      memory,
      host,
      { request: BLOCK_REQUEST_HEADER + slot.maxIo, responseHeader: BLOCK_RESPONSE_HEADER },
      "block",
    );
  }

  protected async answer(request: Uint8Array): Promise<SlotResponse> {
    const { slot, host } = this;
    const header = new Uint8Array(BLOCK_RESPONSE_HEADER);
    const out = new DataView(header.buffer);
    const answer = (status: number, data?: Uint8Array) => {
      out.setInt32(4, status, true);
      out.setUint32(8, data?.length ?? 0, true);
      return data === undefined ? { header } : { header, data };
    };
    if (request.length < BLOCK_REQUEST_HEADER) {
      host.violation(`block slot "${slot.name}": a request of ${request.length} bytes`);
      return answer(BlockStatus.invalid);
    }
    const view = new DataView(request.buffer, request.byteOffset, request.length);
    out.setUint32(0, view.getUint32(0, true), true);
    const op = view.getUint32(4, true);
    const sector = view.getFloat64(8, true);
    const length = view.getUint32(16, true);
    const { sectorSize, sectorCount, maxIo, readWrite } = slot;
    const payload = request.subarray(BLOCK_REQUEST_HEADER);
    const bad = (why: string) => {
      host.violation(`block slot "${slot.name}": ${why}`);
      return answer(BlockStatus.invalid);
    };
    if (!Number.isSafeInteger(sector) || sector < 0) return bad(`sector ${sector}`);
    try {
      switch (op) {
        case BlockOp.read:
        case BlockOp.write: {
          if (length === 0 || length > maxIo || length % sectorSize !== 0)
            return bad(`a ${length}-byte transfer`);
          if (op === BlockOp.write && payload.length !== length)
            return bad("a write whose data does not match its length");
          if (sector + length / sectorSize > sectorCount) return answer(BlockStatus.outOfRange);
          if (op === BlockOp.write) {
            if (!readWrite) return answer(BlockStatus.readOnly);
            await this.device.write(sector, payload);
            return answer(BlockStatus.ok);
          }
          const data = new Uint8Array(length);
          await this.device.read(sector, data);
          return answer(BlockStatus.ok, data);
        }
        case BlockOp.flush:
          await this.device.flush();
          return answer(BlockStatus.ok);
        case BlockOp.discard:
          if (!Number.isSafeInteger(length) || sector + length > sectorCount)
            return answer(BlockStatus.outOfRange);
          if (!readWrite) return answer(BlockStatus.readOnly);
          await this.device.discard(sector, length);
          return answer(BlockStatus.ok);
        default:
          return bad(`unknown operation ${op}`);
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      return answer(
        code === "ATOLL_BLOCK_OUT_OF_RANGE"
          ? BlockStatus.outOfRange
          : code === "ATOLL_BLOCK_READ_ONLY"
            ? BlockStatus.readOnly
            : code === "ATOLL_BLOCK_UNALIGNED"
              ? BlockStatus.invalid
              : BlockStatus.io,
      );
    }
  }
}

const kvStatusOf: Readonly<Record<string, KvStatus>> = {
  ATOLL_KV_NOT_FOUND: KvStatus.notFound,
  ATOLL_KV_DICTIONARY_EXPECTED: KvStatus.dictionaryExpected,
  ATOLL_KV_VALUE_EXPECTED: KvStatus.valueExpected,
  ATOLL_KV_ALREADY_PRESENT: KvStatus.alreadyPresent,
  ATOLL_KV_RENAME_SOURCE_PREFIX: KvStatus.renameSourcePrefix,
  ATOLL_KV_NO_SPACE: KvStatus.noSpace,
  ATOLL_KV_RANGE: KvStatus.range,
  ATOLL_KV_INVALID_KEY: KvStatus.invalidKey,
};
const keyErrors = new Set([
  KvStatus.notFound,
  KvStatus.dictionaryExpected,
  KvStatus.valueExpected,
  KvStatus.alreadyPresent,
]);
/** Requests staging at once that the kv server keeps (an image stages one at a time). */
const MAX_STAGING = 8;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

interface KvAnswer {
  readonly status: number;
  readonly n?: number;
  readonly data?: Uint8Array;
}

/**
 * Serves a kv slot's requests from a host store, in order, one at a time. The
 * data of a large set arrives in stage messages first; what is staged is
 * bounded by the slot's maxValue (beyond it the request fails, tooLarge).
 */
export class KvServer extends RequestServer<KvSlot> {
  readonly #staged = new Map<number, Uint8Array[] | "too-large">();
  #stagedBytes = 0;

  constructor(
    slot: KvSlot,
    readonly store: KvRo | KvRw,
    memory: SharedArrayBuffer,
    host: ServerHost,
  ) {
    super(
      slot,
      memory,
      host,
      {
        request: KV_REQUEST_HEADER + 2 * KV_MAX_KEY + slot.maxIo,
        responseHeader: KV_RESPONSE_HEADER,
      },
      "kv",
    );
  }

  protected async answer(request: Uint8Array): Promise<SlotResponse | undefined> {
    const id = request.length >= 4 ? new DataView(request.buffer).getUint32(0, true) : 0;
    // A stage is answered with the request it belongs to.
    const answer = await this.#answer(request);
    if (answer === undefined) return undefined;
    const header = new Uint8Array(KV_RESPONSE_HEADER);
    const out = new DataView(header.buffer);
    out.setUint32(0, id, true);
    out.setInt32(4, answer.status, true);
    out.setFloat64(8, answer.n ?? 0, true);
    out.setUint32(16, answer.data?.length ?? 0, true);
    return answer.data === undefined ? { header } : { header, data: answer.data };
  }

  #stage(id: number, data: Uint8Array): void {
    this.#makeRoom(id);
    const parts = this.#staged.get(id) ?? [];
    if (parts === "too-large") return;
    if (this.#stagedBytes + data.length > this.slot.maxValue) {
      this.#refuse(id);
      return;
    }
    parts.push(data);
    this.#stagedBytes += data.length;
    this.#staged.set(id, parts);
  }

  /**
   * Before a request starts staging: an image sends its messages in order, so it stages one
   * request at a time; past a few, the oldest is dropped (and its set, if it ever comes,
   * fails or writes only its last message), so that stages of requests that never come
   * keep no memory and no share of maxValue.
   */
  #makeRoom(id: number): void {
    if (this.#staged.has(id) || this.#staged.size < MAX_STAGING) return;
    const [oldest] = this.#staged.keys();
    const parts = this.#staged.get(oldest!);
    if (Array.isArray(parts)) for (const part of parts) this.#stagedBytes -= part.length;
    this.#staged.delete(oldest!);
    this.host.violation(
      `kv slot "${this.slot.name}": stages of more than ${MAX_STAGING} requests at once`,
    );
  }

  /** Drops what a request staged; the request fails as too large. */
  #refuse(id: number): void {
    this.#makeRoom(id);
    const parts = this.#staged.get(id);
    if (Array.isArray(parts)) for (const part of parts) this.#stagedBytes -= part.length;
    this.#staged.set(id, "too-large");
  }

  /** The staged data of a request followed by `tail`; undefined when it grew past maxValue. */
  #unstage(id: number, tail: Uint8Array): Uint8Array | undefined {
    const parts = this.#staged.get(id);
    this.#staged.delete(id);
    if (parts === undefined) return tail;
    if (parts === "too-large") return undefined;
    let length = tail.length;
    for (const part of parts) length += part.length;
    this.#stagedBytes -= length - tail.length;
    if (length > this.slot.maxValue) return undefined;
    const out = new Uint8Array(length);
    let at = 0;
    for (const part of [...parts, tail]) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  async #answer(request: Uint8Array): Promise<KvAnswer | undefined> {
    const { slot, host } = this;
    const bad = (why: string): KvAnswer => {
      host.violation(`kv slot "${slot.name}": ${why}`);
      return { status: KvStatus.invalid, data: utf8.encode(why) };
    };
    if (request.length < KV_REQUEST_HEADER) return bad(`a request of ${request.length} bytes`);
    const view = new DataView(request.buffer, request.byteOffset, request.length);
    const id = view.getUint32(0, true);
    const op = view.getUint32(4, true);
    const n1 = view.getFloat64(8, true);
    const n2 = view.getFloat64(16, true);
    const keyLength = view.getUint32(24, true);
    const key2Length = view.getUint32(28, true);
    const payload = request.subarray(KV_REQUEST_HEADER);
    if (op === KvOp.stage) {
      if (payload.length === 0 || payload.length > slot.maxIo) {
        // The request it belongs to fails (as too large) rather than set half a value.
        this.#refuse(id);
        host.violation(`kv slot "${slot.name}": a stage of ${payload.length} bytes`);
        return undefined;
      }
      this.#stage(id, payload);
      return undefined;
    }
    if (
      keyLength > KV_MAX_KEY ||
      key2Length > KV_MAX_KEY ||
      keyLength + key2Length > payload.length
    ) {
      this.#unstage(id, payload);
      return bad("keys longer than the request");
    }
    let key: string;
    let key2: string;
    try {
      key = strictUtf8.decode(payload.subarray(0, keyLength));
      key2 = strictUtf8.decode(payload.subarray(keyLength, keyLength + key2Length));
    } catch {
      this.#unstage(id, payload);
      return bad("a key that is not UTF-8");
    }
    const tail = payload.subarray(keyLength + key2Length);
    const data = op === KvOp.set || op === KvOp.setPartial ? this.#unstage(id, tail) : tail;
    if (data === undefined)
      return {
        status: KvStatus.tooLarge,
        data: utf8.encode(
          `the value is larger than the ${slot.maxValue} bytes the boundary allows`,
        ),
      };
    const store = this.store;
    const writable = (): KvRw | undefined =>
      slot.readWrite && "set" in store ? (store as KvRw) : undefined;
    try {
      switch (op) {
        case KvOp.exists: {
          const kind = await store.exists(key);
          return {
            status: KvStatus.ok,
            n:
              kind === "value"
                ? KvKind.value
                : kind === "dictionary"
                  ? KvKind.dictionary
                  : KvKind.none,
          };
        }
        case KvOp.read: {
          if (!Number.isSafeInteger(n1) || n1 < 0 || !Number.isSafeInteger(n2) || n2 < 0)
            return bad(`a read of ${n2} bytes at ${n1}`);
          const size = await store.size(key);
          const bytes = await store.getPartial(key, n1, Math.min(n2, slot.maxIo));
          return { status: KvStatus.ok, n: size, data: bytes };
        }
        case KvOp.list: {
          if (!Number.isSafeInteger(n1) || n1 < 0) return bad(`a list from entry ${n1}`);
          const entries = await store.list(key);
          return {
            status: KvStatus.ok,
            n: entries.length,
            data: encodeEntries(entries, n1, slot.maxIo),
          };
        }
        case KvOp.lastModified:
          return { status: KvStatus.ok, n: await store.lastModified(key) };
        case KvOp.digest:
          return { status: KvStatus.ok, data: utf8.encode(await store.digest(key)) };
        case KvOp.size:
          return { status: KvStatus.ok, n: await store.size(key) };
        case KvOp.flush: {
          await writable()?.flush();
          return { status: KvStatus.ok };
        }
        case KvOp.set:
        case KvOp.setPartial:
        case KvOp.remove:
        case KvOp.rename:
        case KvOp.allocate: {
          const rw = writable();
          if (rw === undefined) return { status: KvStatus.readOnly };
          if (op === KvOp.set) await rw.set(key, data);
          else if (op === KvOp.setPartial) await rw.setPartial(key, n1, data);
          else if (op === KvOp.remove) await rw.remove(key);
          else if (op === KvOp.rename) await rw.rename(key, key2);
          else if (!Number.isSafeInteger(n1) || n1 < 0 || n1 > slot.maxValue)
            return { status: KvStatus.range, data: utf8.encode(`size ${n1}`) };
          else await rw.allocate(key, n1, Number.isNaN(n2) ? undefined : n2);
          return { status: KvStatus.ok };
        }
        default:
          return bad(`unknown operation ${op}`);
      }
    } catch (error) {
      const code = String((error as { code?: unknown }).code ?? "");
      const status = kvStatusOf[code] ?? KvStatus.io;
      const errorKey = (error as { key?: unknown }).key;
      const text =
        keyErrors.has(status) && typeof errorKey === "string"
          ? errorKey
          : error instanceof Error
            ? error.message
            : String(error);
      const bytes = utf8.encode(text);
      return {
        status,
        data: bytes.length > KV_MAX_MESSAGE ? bytes.subarray(0, KV_MAX_MESSAGE) : bytes,
      };
    }
  }
}

/** List entries from `start` on, as many as fit in `max` bytes (at least one). */
function encodeEntries(entries: readonly KvEntry[], start: number, max: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let i = start; i < entries.length; i++) {
    const e = entries[i]!;
    const name = utf8.encode(e.name);
    if (name.length > 0xffff) continue;
    if (length + 3 + name.length > max && parts.length > 0) break;
    const part = new Uint8Array(3 + name.length);
    part[0] = e.kind === "value" ? KvKind.value : KvKind.dictionary;
    part[1] = name.length & 0xff;
    part[2] = name.length >> 8;
    part.set(name, 3);
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
