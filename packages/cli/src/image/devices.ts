// The devices an image sees, built inside the image's realm over the boundary
// memory: a factory per slot kind, each returning a driver bound under the
// slot's name. The tender's objects never cross: these are ordinary objects of
// the image, and all they hand the tender is bytes in rings.

import {
  Block,
  type BlockInfo,
  BlockIoError,
  BlockReadOnlyError,
  checkRange,
  checkRequest,
  type SectorBuffers,
} from "@atoll/block";
import { MonotonicClock, sleepWith, Time, WallClock } from "@atoll/clock";
import { Console } from "@atoll/console";
import { type AnyDriver, AtollError, DisconnectedError, driver } from "@atoll/core";
import { ChaCha20Stream, Random, RandomSource } from "@atoll/entropy";
import {
  AlreadyPresentError,
  DictionaryExpectedError,
  type EntryKind,
  InvalidKeyError,
  type Key,
  KeyNotFoundError,
  type KvEntry,
  KvIoError,
  KvRangeError,
  KvRo,
  KvRw,
  type KvValue,
  NoSpaceError,
  parseKey,
  RenameSourcePrefixError,
  readOnlyView,
  ValueExpectedError,
} from "@atoll/kv";
import { Netif, type NetifStats } from "@atoll/netif";
import {
  BLOCK_REQUEST_HEADER,
  BLOCK_RESPONSE_HEADER,
  BlockOp,
  BlockStatus,
  type BootSlot,
  KV_MAX_KEY,
  KV_REQUEST_HEADER,
  KV_RESPONSE_HEADER,
  KvKind,
  KvOp,
  KvStatus,
} from "../abi.js";
import { RingConsumer, RingProducer } from "../ring.js";
import type { Machine } from "./machine.js";

export type SlotFactory = (slot: BootSlot, machine: Machine) => AnyDriver;

type SlotOf<K extends BootSlot["kind"]> = Extract<BootSlot, { kind: K }>;

// ---- console, clocks, time, random -----------------------------------------------------------

class InputQueue {
  #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #reading = false;
  push(chunk: Uint8Array | undefined): void {
    if (chunk === undefined) this.#ended = true;
    else this.#chunks.push(chunk);
    this.#wake?.();
  }
  async *read(): AsyncGenerator<Uint8Array> {
    if (this.#reading)
      throw new AtollError("ATOLL_CONSOLE_INPUT_BUSY", "console input already has a reader");
    this.#reading = true;
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) yield chunk;
        else if (this.#ended) return;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.#reading = false;
    }
  }
}

export const consoleSlot: SlotFactory = (_slot, machine) => {
  let queue: InputQueue | undefined;
  return driver({
    name: "console.boundary",
    provides: Console,
    connect: () => ({
      write: (data: string | Uint8Array) => machine.write(data),
      flush: () => machine.flush(),
      input(): AsyncIterable<Uint8Array> {
        if (queue === undefined) {
          const q = (queue = new InputQueue());
          machine.listenInput((chunk) => q.push(chunk));
        }
        return queue.read();
      },
    }),
  });
};

export const clockSlot: SlotFactory = (_slot, machine) =>
  driver({
    name: "clock.boundary-monotonic",
    provides: MonotonicClock,
    connect() {
      let last = 0;
      return {
        now() {
          const t = Math.round(machine.now());
          if (t > last) last = t;
          return last;
        },
      };
    },
  });

export const wallClockSlot: SlotFactory = (_slot, machine) =>
  driver({
    name: "clock.boundary-wall",
    provides: WallClock,
    connect: () => ({
      now: () => machine.boot.wallEpochMs + machine.now() / 1e6,
      tzOffsetSeconds: () => machine.boot.tzOffsetSeconds ?? undefined,
    }),
  });

export const timeSlot: SlotFactory = (_slot, machine) => {
  const live = new Set<{ cancel(): void }>();
  return driver({
    name: "time.boundary",
    provides: Time,
    connect() {
      const setTimer = (ns: number, callback: () => void) => {
        const timer = machine.setTimer(ns, () => {
          live.delete(timer);
          callback();
        });
        live.add(timer);
        return timer;
      };
      return {
        setTimer,
        sleep: (ns: number, signal?: AbortSignal) => sleepWith(setTimer, ns, signal),
      };
    },
    disconnect() {
      for (const timer of live) timer.cancel();
      live.clear();
    },
  });
};

const fromHex = (hex: string) =>
  Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));

/** ChaCha20 keyed with 32 bytes the tender drew from the host's CSPRNG at boot. */
class BoundaryRandom extends RandomSource {
  readonly #stream: ChaCha20Stream;
  constructor(seed: Uint8Array) {
    super(1024);
    this.#stream = new ChaCha20Stream(seed);
  }
  protected generate(out: Uint8Array): void {
    this.#stream.read(out);
  }
}

export const randomSlot: SlotFactory = (slot) =>
  driver({
    name: "random.boundary",
    provides: Random,
    connect: () => new BoundaryRandom(fromHex((slot as SlotOf<"random">).seed)),
  });

// ---- netif -----------------------------------------------------------------------------------

/** Frames handed to the listener per turn before the vCPU comes back for the rest. */
const RX_BUDGET = 256;

class BoundaryNetif implements Netif {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly #tx: RingProducer;
  readonly #rx: RingConsumer;
  readonly #machine: Machine;
  #listener: ((frame: Uint8Array) => void) | undefined;
  #connected = true;
  readonly #counts = {
    rxBytes: 0,
    rxPackets: 0,
    rxDropped: 0,
    rxErrors: 0,
    txBytes: 0,
    txPackets: 0,
    txDropped: 0,
    txErrors: 0,
  };

  constructor(slot: SlotOf<"net">, machine: Machine) {
    this.mac = Uint8Array.from(slot.mac.split(":"), (h) => Number.parseInt(h, 16));
    this.mtu = slot.mtu;
    this.#machine = machine;
    this.#tx = new RingProducer(machine.memory, slot.tx);
    this.#rx = new RingConsumer(machine.memory, slot.rx, slot.mtu + 14);
    machine.onReady(slot.index, () => this.#receive(slot.index));
  }

  get stats(): NetifStats {
    const c = this.#counts;
    return {
      ...c,
      rxDropped: c.rxDropped + this.#rx.drops,
      rxErrors: c.rxErrors + this.#rx.errors,
    };
  }

  write(frame: Uint8Array): boolean {
    const c = this.#counts;
    if (!this.#connected) {
      c.txDropped++;
      return false;
    }
    if (frame.length < 14 || frame.length > this.mtu + 14) {
      c.txErrors++;
      return false;
    }
    if (!this.#tx.push(frame)) {
      c.txDropped++;
      return false;
    }
    c.txPackets++;
    c.txBytes += frame.length;
    this.#machine.notify();
    return true;
  }

  listen(listener: (frame: Uint8Array) => void): void {
    this.#listener = listener;
  }

  #receive(index: number): void {
    const c = this.#counts;
    const n = this.#rx.drain((frame) => {
      if (this.#listener === undefined || !this.#connected) {
        c.rxDropped++;
        return;
      }
      c.rxPackets++;
      c.rxBytes += frame.length;
      this.#listener(frame);
    }, RX_BUDGET);
    if (n === RX_BUDGET && this.#rx.pending) this.#machine.raise(index);
  }

  disconnect(): void {
    this.#connected = false;
    this.#listener = undefined;
  }
}

export const netSlot: SlotFactory = (slot, machine) =>
  driver({
    name: "netif.boundary",
    provides: Netif,
    connect: () => new BoundaryNetif(slot as SlotOf<"net">, machine),
    disconnect: (netif) => (netif as BoundaryNetif).disconnect(),
  });

// ---- block -----------------------------------------------------------------------------------

/** The error a block response status stands for. */
function blockError(status: number): AtollError {
  switch (status) {
    case BlockStatus.outOfRange:
      return new AtollError("ATOLL_BLOCK_OUT_OF_RANGE", "the request is outside the device");
    case BlockStatus.readOnly:
      return new AtollError("ATOLL_BLOCK_READ_ONLY", "the device is read-only");
    case BlockStatus.invalid:
      return new AtollError("ATOLL_BLOCK_INVALID", "the tender refused a malformed request");
    case BlockStatus.unsupported:
      return new AtollError("ATOLL_BLOCK_UNSUPPORTED", "the device does not support this request");
    default:
      return new AtollError("ATOLL_BLOCK_IO", `the host failed the request (status ${status})`);
  }
}

interface Pending {
  readonly op: number;
  readonly sector: number;
  readonly length: number;
  readonly data: Uint8Array | undefined;
  readonly target: Uint8Array | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

class BoundaryBlock implements Block {
  readonly #info: BlockInfo;
  readonly #maxIo: number;
  readonly #req: RingProducer;
  readonly #resp: RingConsumer;
  readonly #machine: Machine;
  readonly #inflight = new Map<number, Pending>();
  readonly #waiting: Array<[number, Pending]> = [];
  #nextId = 1;
  #connected = true;

  constructor(slot: SlotOf<"block">, machine: Machine) {
    this.#info = Object.freeze({
      sectorSize: slot.sectorSize,
      sectorCount: slot.sectorCount,
      readWrite: slot.readWrite,
    });
    this.#maxIo = slot.maxIo - (slot.maxIo % slot.sectorSize);
    this.#machine = machine;
    this.#req = new RingProducer(machine.memory, slot.req);
    this.#resp = new RingConsumer(machine.memory, slot.resp, BLOCK_RESPONSE_HEADER + slot.maxIo);
    machine.onReady(slot.index, () => this.#complete());
  }

  info(): BlockInfo {
    return this.#info;
  }

  #check(sector: number, buffers: SectorBuffers, write: boolean): readonly Uint8Array[] {
    if (!this.#connected) throw new DisconnectedError("block");
    const { buffers: list } = checkRequest(this.#info, sector, buffers);
    if (write && !this.#info.readWrite) throw new BlockReadOnlyError();
    return list;
  }

  async read(sector: number, buffers: SectorBuffers): Promise<void> {
    const list = this.#check(sector, buffers, false);
    const parts: Promise<void>[] = [];
    let at = sector;
    for (const buffer of list)
      for (let off = 0; off < buffer.length; off += this.#maxIo) {
        const target = buffer.subarray(off, off + this.#maxIo);
        parts.push(this.#submit(BlockOp.read, at, target.length, undefined, target));
        at += target.length / this.#info.sectorSize;
      }
    await Promise.all(parts);
  }

  async write(sector: number, buffers: SectorBuffers): Promise<void> {
    const list = this.#check(sector, buffers, true);
    const parts: Promise<void>[] = [];
    let at = sector;
    for (const buffer of list)
      for (let off = 0; off < buffer.length; off += this.#maxIo) {
        const data = buffer.slice(off, off + this.#maxIo);
        parts.push(this.#submit(BlockOp.write, at, data.length, data, undefined));
        at += data.length / this.#info.sectorSize;
      }
    await Promise.all(parts);
  }

  async flush(): Promise<void> {
    if (!this.#connected) throw new DisconnectedError("block");
    return this.#submit(BlockOp.flush, 0, 0, undefined, undefined);
  }

  async discard(sector: number, count: number): Promise<void> {
    if (!this.#connected) throw new DisconnectedError("block");
    checkRange(this.#info, sector, count);
    if (!this.#info.readWrite) throw new BlockReadOnlyError();
    return this.#submit(BlockOp.discard, sector, count, undefined, undefined);
  }

  #submit(
    op: number,
    sector: number,
    length: number,
    data: Uint8Array | undefined,
    target: Uint8Array | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId;
      this.#nextId = (this.#nextId % 0x7fffffff) + 1;
      const pending: Pending = { op, sector, length, data, target, resolve, reject };
      if (this.#waiting.length > 0 || !this.#send(id, pending)) this.#waiting.push([id, pending]);
    });
  }

  #send(id: number, p: Pending): boolean {
    const header = new Uint8Array(BLOCK_REQUEST_HEADER);
    const view = new DataView(header.buffer);
    view.setUint32(0, id, true);
    view.setUint32(4, p.op, true);
    view.setFloat64(8, p.sector, true);
    view.setUint32(16, p.length, true);
    if (!this.#req.push(header, p.data)) return false;
    this.#inflight.set(id, p);
    this.#machine.notify();
    return true;
  }

  #complete(): void {
    this.#resp.drain((entry) => {
      if (entry.length < BLOCK_RESPONSE_HEADER) return;
      const view = new DataView(entry.buffer, entry.byteOffset, entry.length);
      const id = view.getUint32(0, true);
      const status = view.getInt32(4, true);
      const length = view.getUint32(8, true);
      const p = this.#inflight.get(id);
      if (p === undefined) return;
      this.#inflight.delete(id);
      if (status !== BlockStatus.ok) {
        p.reject(blockError(status));
        return;
      }
      if (p.op === BlockOp.read) {
        if (length !== p.length || entry.length < BLOCK_RESPONSE_HEADER + length) {
          p.reject(new BlockIoError("the tender answered a read with the wrong length"));
          return;
        }
        p.target!.set(entry.subarray(BLOCK_RESPONSE_HEADER, BLOCK_RESPONSE_HEADER + length));
      }
      p.resolve();
    });
    while (this.#waiting.length > 0) {
      const [id, p] = this.#waiting[0]!;
      if (!this.#send(id, p)) break;
      this.#waiting.shift();
    }
  }

  disconnect(): void {
    this.#connected = false;
    const error = new DisconnectedError("block");
    for (const p of this.#inflight.values()) p.reject(error);
    for (const [, p] of this.#waiting) p.reject(error);
    this.#inflight.clear();
    this.#waiting.length = 0;
  }
}

export const blockSlot: SlotFactory = (slot, machine) =>
  driver({
    name: "block.boundary",
    provides: Block,
    connect: () => new BoundaryBlock(slot as SlotOf<"block">, machine),
    disconnect: (block) => (block as BoundaryBlock).disconnect(),
  });

// ---- kv --------------------------------------------------------------------------------------

const utf8 = /* @__PURE__ */ new TextEncoder();
const fromUtf8 = /* @__PURE__ */ new TextDecoder();

interface KvReply {
  readonly status: number;
  readonly n: number;
  readonly data: Uint8Array;
}

interface KvPending {
  resolve(reply: KvReply): void;
  reject(error: unknown): void;
}

/** One request on its way: its header and body, and who waits for the answer (none for a stage). */
type KvMessage = [id: number, header: Uint8Array, body: Uint8Array, pending: KvPending | undefined];

const checkCount = (name: string, n: number) => {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new KvRangeError(`${name} must be a non-negative integer, got ${n}`);
};

/** The canonical text of a key and its UTF-8 bytes; InvalidKeyError for a malformed or overlong key. */
function keyBytes(key: Key): [text: string, bytes: Uint8Array] {
  const text = `/${parseKey(key).join("/")}`;
  const bytes = utf8.encode(text);
  if (bytes.length > KV_MAX_KEY)
    throw new InvalidKeyError(text, `longer than ${KV_MAX_KEY} bytes of UTF-8`);
  return [text, bytes];
}

/** The error a kv response status stands for, with the keys of the request it answers. */
function kvError(status: number, payload: string, key: string, key2: string): Error {
  switch (status) {
    case KvStatus.notFound:
      return new KeyNotFoundError(payload || key);
    case KvStatus.dictionaryExpected:
      return new DictionaryExpectedError(payload || key);
    case KvStatus.valueExpected:
      return new ValueExpectedError(payload || key);
    case KvStatus.alreadyPresent:
      return new AlreadyPresentError(payload || key);
    case KvStatus.renameSourcePrefix:
      return new RenameSourcePrefixError(key, key2);
    case KvStatus.noSpace:
      return new NoSpaceError(payload.replace(/^no space left: /, ""));
    case KvStatus.tooLarge:
      return new NoSpaceError(payload || "the value is larger than the boundary allows");
    case KvStatus.range:
      return new KvRangeError(payload);
    case KvStatus.invalidKey:
      return new InvalidKeyError(key, payload);
    case KvStatus.readOnly:
      return new KvIoError("the store is attached read-only");
    case KvStatus.invalid:
      return new KvIoError(`the tender refused a malformed request: ${payload}`);
    default:
      return new KvIoError(
        payload === "" ? `the host failed the request (status ${status})` : payload,
      );
  }
}

/** A KvRw whose every call is a message to the tender; nothing but bytes crosses. */
class BoundaryKv implements KvRw {
  readonly #slot: SlotOf<"kv">;
  readonly #req: RingProducer;
  readonly #resp: RingConsumer;
  readonly #machine: Machine;
  readonly #inflight = new Map<number, KvPending>();
  readonly #waiting: KvMessage[] = [];
  #nextId = 1;
  #connected = true;

  constructor(slot: SlotOf<"kv">, machine: Machine) {
    this.#slot = slot;
    this.#machine = machine;
    this.#req = new RingProducer(machine.memory, slot.req);
    this.#resp = new RingConsumer(machine.memory, slot.resp, KV_RESPONSE_HEADER + slot.maxIo);
    machine.onReady(slot.index, () => this.#complete());
  }

  async exists(key: Key): Promise<EntryKind | undefined> {
    const { n } = await this.#call(KvOp.exists, key);
    return n === KvKind.value ? "value" : n === KvKind.dictionary ? "dictionary" : undefined;
  }

  async get(key: Key): Promise<Uint8Array> {
    return this.#read(key, 0, Number.MAX_SAFE_INTEGER);
  }

  async getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    checkCount("offset", offset);
    checkCount("length", length);
    return this.#read(key, offset, length);
  }

  /** Reads in messages of at most maxIo bytes; starts over (at most 3 times) when the value changes size meanwhile. */
  async #read(key: Key, offset: number, length: number): Promise<Uint8Array> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const first = await this.#call(KvOp.read, key, offset, Math.min(length, this.#slot.maxIo));
      const total = first.n;
      const want = Math.max(0, Math.min(length, total - offset));
      if (first.data.length === want) return first.data;
      if (first.data.length > want) break;
      const out = new Uint8Array(want);
      out.set(first.data);
      let got = first.data.length;
      let changed = false;
      while (got < want) {
        const part = await this.#call(
          KvOp.read,
          key,
          offset + got,
          Math.min(want - got, this.#slot.maxIo),
        );
        if (part.n !== total || part.data.length === 0 || part.data.length > want - got) {
          changed = true;
          break;
        }
        out.set(part.data, got);
        got += part.data.length;
      }
      if (!changed) return out;
    }
    throw new KvIoError(`${keyBytes(key)[0]} kept changing while it was read across the boundary`);
  }

  async list(key: Key): Promise<KvEntry[]> {
    const [text] = keyBytes(key);
    const prefix = text === "/" ? "/" : `${text}/`;
    const out: KvEntry[] = [];
    for (;;) {
      const { n: total, data } = await this.#call(KvOp.list, key, out.length);
      let at = 0;
      const before = out.length;
      while (at + 3 <= data.length) {
        const kind = data[at]!;
        const length = data[at + 1]! | (data[at + 2]! << 8);
        const name = fromUtf8.decode(data.subarray(at + 3, at + 3 + length));
        at += 3 + length;
        if (at > data.length || (kind !== KvKind.value && kind !== KvKind.dictionary))
          throw new KvIoError(`the tender answered a list of ${text} with a malformed entry`);
        out.push({
          key: prefix + name,
          name,
          kind: kind === KvKind.value ? "value" : "dictionary",
        });
      }
      if (out.length >= total) return out;
      if (out.length === before)
        throw new KvIoError(`the tender answered a list of ${text} with no entries`);
    }
  }

  async lastModified(key: Key): Promise<number> {
    return (await this.#call(KvOp.lastModified, key)).n;
  }

  async digest(key: Key): Promise<string> {
    return fromUtf8.decode((await this.#call(KvOp.digest, key)).data);
  }

  async size(key: Key): Promise<number> {
    return (await this.#call(KvOp.size, key)).n;
  }

  async set(key: Key, value: KvValue): Promise<void> {
    await this.#call(KvOp.set, key, 0, 0, undefined, toBytes(value));
  }

  async setPartial(key: Key, offset: number, data: KvValue): Promise<void> {
    checkCount("offset", offset);
    await this.#call(KvOp.setPartial, key, offset, 0, undefined, toBytes(data));
  }

  async remove(key: Key): Promise<void> {
    await this.#call(KvOp.remove, key);
  }

  async rename(source: Key, dest: Key): Promise<void> {
    await this.#call(KvOp.rename, source, 0, 0, dest);
  }

  async allocate(key: Key, size: number, lastModified?: number): Promise<void> {
    checkCount("size", size);
    if (size > this.#slot.maxValue)
      throw new NoSpaceError(
        `${size} bytes is more than the ${this.#slot.maxValue} bytes a value can have at the boundary`,
      );
    await this.#call(KvOp.allocate, key, size, lastModified ?? Number.NaN);
  }

  async flush(): Promise<void> {
    await this.#call(KvOp.flush, "/");
  }

  /** Sends one request (its data staged in several messages when it is large) and waits for the answer. */
  async #call(op: KvOp, key: Key, n1 = 0, n2 = 0, key2?: Key, data?: Uint8Array): Promise<KvReply> {
    if (!this.#connected) throw new DisconnectedError("kv");
    const [text, k1] = keyBytes(key);
    const [text2, k2] = key2 === undefined ? ["", new Uint8Array(0)] : keyBytes(key2);
    const { maxIo, maxValue } = this.#slot;
    const body = data ?? new Uint8Array(0);
    if (body.length > maxValue)
      throw new NoSpaceError(
        `a value of ${body.length} bytes is more than the ${maxValue} bytes a value can have at the boundary`,
      );
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 0x7fffffff) + 1;
    const messages: KvMessage[] = [];
    const room = maxIo - k1.length - k2.length;
    const last = Math.max(0, body.length - room);
    for (let at = 0; at < last; at += maxIo) {
      const part = body.subarray(at, Math.min(last, at + maxIo));
      messages.push([id, kvHeader(id, KvOp.stage, 0, 0, 0, 0), part, undefined]);
    }
    const finalBody = new Uint8Array(k1.length + k2.length + body.length - last);
    finalBody.set(k1);
    finalBody.set(k2, k1.length);
    finalBody.set(body.subarray(last), k1.length + k2.length);
    const reply = await new Promise<KvReply>((resolve, reject) => {
      messages.push([
        id,
        kvHeader(id, op, n1, n2, k1.length, k2.length),
        finalBody,
        { resolve, reject },
      ]);
      for (const message of messages)
        if (this.#waiting.length > 0 || !this.#send(message)) this.#waiting.push(message);
    });
    if (reply.status !== KvStatus.ok)
      throw kvError(reply.status, fromUtf8.decode(reply.data), text, text2);
    return reply;
  }

  #send([id, header, body, pending]: KvMessage): boolean {
    if (!this.#req.push(header, body)) return false;
    if (pending !== undefined) this.#inflight.set(id, pending);
    this.#machine.notify();
    return true;
  }

  #complete(): void {
    this.#resp.drain((entry) => {
      if (entry.length < KV_RESPONSE_HEADER) return;
      const view = new DataView(entry.buffer, entry.byteOffset, entry.length);
      const id = view.getUint32(0, true);
      const p = this.#inflight.get(id);
      if (p === undefined) return;
      this.#inflight.delete(id);
      const length = view.getUint32(16, true);
      if (KV_RESPONSE_HEADER + length > entry.length) {
        p.reject(new KvIoError("the tender answered with a truncated message"));
        return;
      }
      p.resolve({
        status: view.getInt32(4, true),
        n: view.getFloat64(8, true),
        data: entry.slice(KV_RESPONSE_HEADER, KV_RESPONSE_HEADER + length),
      });
    });
    while (this.#waiting.length > 0) {
      if (!this.#send(this.#waiting[0]!)) break;
      this.#waiting.shift();
    }
  }

  disconnect(): void {
    this.#connected = false;
    const error = new DisconnectedError("kv");
    for (const p of this.#inflight.values()) p.reject(error);
    for (const [, , , p] of this.#waiting) p?.reject(error);
    this.#inflight.clear();
    this.#waiting.length = 0;
  }
}

function toBytes(value: KvValue): Uint8Array {
  if (typeof value === "string") return utf8.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new TypeError("a value is a Uint8Array or a string");
}

function kvHeader(
  id: number,
  op: KvOp,
  n1: number,
  n2: number,
  keyLength: number,
  key2Length: number,
): Uint8Array {
  const header = new Uint8Array(KV_REQUEST_HEADER);
  const view = new DataView(header.buffer);
  view.setUint32(0, id, true);
  view.setUint32(4, op, true);
  view.setFloat64(8, n1, true);
  view.setFloat64(16, n2, true);
  view.setUint32(24, keyLength, true);
  view.setUint32(28, key2Length, true);
  return header;
}

/** A KvRo slot gets a read-only view (nothing reachable through it can write); a KvRw slot the store. */
export const kvSlot: SlotFactory = (slot, machine) => {
  const s = slot as SlotOf<"kv">;
  const below = new WeakMap<object, BoundaryKv>();
  const disconnect = (device: object) => below.get(device)?.disconnect();
  if (s.signature === KvRw.id)
    return driver({
      name: "kv.boundary",
      provides: KvRw,
      connect() {
        const kv = new BoundaryKv(s, machine);
        below.set(kv, kv);
        return kv;
      },
      disconnect,
    });
  return driver({
    name: "kv.boundary-ro",
    provides: KvRo,
    connect() {
      const kv = new BoundaryKv(s, machine);
      const view = readOnlyView(kv);
      below.set(view, kv);
      return view;
    },
    disconnect,
  });
};

export const slotFactories = {
  console: consoleSlot,
  clock: clockSlot,
  wallclock: wallClockSlot,
  time: timeSlot,
  random: randomSlot,
  net: netSlot,
  block: blockSlot,
  kv: kvSlot,
} as const;
