// The tender's side of the network and block rings: frames between a slot's
// rings and a host Netif, requests from a slot's ring to a host Block. Every
// entry is copied out of shared memory before it is looked at, checked, and
// either served or counted as a violation; nothing the image writes can make
// the tender throw, read or write outside the rings, or queue without bound.

import type { Block } from "@atoll/block";
import type { Netif } from "@atoll/netif";
import {
  BLOCK_REQUEST_HEADER,
  BLOCK_RESPONSE_HEADER,
  BlockOp,
  BlockStatus,
  type BootSlot,
} from "../abi.js";
import { CopyingRingConsumer, type RingConsumer, RingProducer } from "../ring.js";

type NetSlot = Extract<BootSlot, { kind: "net" }>;
type BlockSlot = Extract<BootSlot, { kind: "block" }>;

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

/** Serves a block slot's requests from a host Block, in order, one at a time. */
export class BlockServer {
  readonly #req: RingConsumer;
  readonly #resp: RingProducer;
  #busy = false;

  constructor(
    readonly slot: BlockSlot,
    readonly device: Block,
    memory: SharedArrayBuffer,
    readonly host: ServerHost,
  ) {
    this.#req = new CopyingRingConsumer(memory, slot.req, BLOCK_REQUEST_HEADER + slot.maxIo);
    this.#resp = new RingProducer(memory, slot.resp);
  }

  /** Takes the queued requests (a no-op while a request is being served: it continues by itself). */
  serve(): void {
    if (!this.#busy) void this.#loop();
  }

  async #loop(): Promise<void> {
    this.#busy = true;
    const { slot, host } = this;
    try {
      while (host.running) {
        let request: Uint8Array | undefined;
        this.#req.drain((entry) => {
          // Take a request only when its answer is sure to fit.
          if (this.#resp.free() < BLOCK_RESPONSE_HEADER + slot.maxIo + 8) return false;
          request = entry.slice();
        }, 1);
        if (this.#req.errors > 0) {
          host.violation(`block slot "${slot.name}" request ring: ${this.#req.lastError}`);
          this.#req.errors = 0;
        }
        if (request === undefined) break;
        const response = await this.#answer(request);
        if (!host.running) break;
        if (!this.#resp.push(response.header, response.data)) this.#resp.countDrop();
        host.raise(slot.index);
      }
    } finally {
      this.#busy = false;
    }
  }

  async #answer(request: Uint8Array): Promise<{ header: Uint8Array; data?: Uint8Array }> {
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
