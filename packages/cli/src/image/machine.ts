// The image's side of the boundary: reads the boot information, keeps the
// image's timers, dispatches the ready set the tender raises, and writes the
// console. The tender's vCPU calls `poll()` once per turn (after writing the
// current time); poll never blocks: the vCPU sleeps until the deadline this
// side publishes or until the tender raises a ready bit (Solo5's yield).

import {
  ABI_VERSION,
  type BootInfo,
  ConsoleInFlag,
  ConsoleOutFlag,
  ConsoleStream,
  Float,
  MAGIC,
  State,
  Word,
} from "../abi.js";
import { RingConsumer, RingProducer } from "../ring.js";

/** The ready-set bit of the machine's own console; slots use 1..63. */
export const CONSOLE_READY = 0;

const encoder = new TextEncoder();
/** Console output kept in the image while the ring is full, before dropping. */
const CONSOLE_BACKLOG_BYTES = 1 << 20;

export interface MachineTimer {
  cancel(): void;
  readonly pending: boolean;
}

class Timer implements MachineTimer {
  constructor(
    readonly deadline: number,
    readonly seq: number,
    public callback: (() => void) | undefined,
  ) {}
  get pending(): boolean {
    return this.callback !== undefined;
  }
  cancel(): void {
    this.callback = undefined;
  }
}

const earlier = (a: Timer, b: Timer) =>
  a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

export class Machine {
  readonly memory: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly floats: Float64Array;
  readonly boot: BootInfo;
  readonly #out: RingProducer;
  readonly #in: RingConsumer;
  readonly #handlers: Array<(() => void) | undefined> = [];
  #heap: Timer[] = [];
  #seq = 0;
  #backlog: Array<[number, Uint8Array]> = [];
  #backlogBytes = 0;
  #flushWaiters: Array<() => void> = [];
  #inputListeners: Array<(chunk: Uint8Array | undefined) => void> = [];
  #onStop: (() => void) | undefined;
  #exiting = false;
  /** Console bytes dropped because the host did not keep up. */
  consoleDropped = 0;

  constructor(memory: SharedArrayBuffer) {
    this.memory = memory;
    this.words = new Int32Array(memory);
    this.floats = new Float64Array(memory);
    if (this.words[Word.magic] !== MAGIC || this.words[Word.abi] !== ABI_VERSION)
      throw new Error(`not a boundary memory of ABI ${ABI_VERSION}`);
    const offset = this.words[Word.bootOffset]!;
    const length = this.words[Word.bootLength]!;
    // The tender writes it in ASCII (JSON escapes for the rest): no UTF-8 decoder needed.
    const bytes = new Uint8Array(memory, offset, length).slice();
    let json = "";
    for (let at = 0; at < bytes.length; at += 4096)
      json += String.fromCharCode(...bytes.subarray(at, at + 4096));
    this.boot = JSON.parse(json) as BootInfo;
    this.#out = new RingProducer(memory, this.boot.console.out);
    this.#in = new RingConsumer(memory, this.boot.console.in, this.boot.console.in[1] >> 1);
    this.floats[Float.deadline] = Number.POSITIVE_INFINITY;
    this.onReady(CONSOLE_READY, () => this.#consoleReady());
    Atomics.store(this.words, Word.state, State.running);
  }

  /** Nanoseconds since boot on the monotonic clock, as of the start of this turn. */
  now(): number {
    return this.floats[Float.now]!;
  }

  /** Asks the tender to look at the rings after this turn. */
  notify(): void {
    this.words[Word.pending] = 1;
  }

  /** Raises a ready bit from inside the image, so the vCPU comes back at once. */
  raise(index: number): void {
    Atomics.or(this.words, index < 32 ? Word.ready0 : Word.ready1, 1 << (index & 31));
  }

  onReady(index: number, handler: () => void): void {
    this.#handlers[index] = handler;
  }

  onStop(handler: () => void): void {
    this.#onStop = handler;
  }

  get exited(): boolean {
    return this.words[Word.state] === State.exited;
  }

  // ---- timers ------------------------------------------------------------------------------

  setTimer(ns: number, callback: () => void): MachineTimer {
    const delay = ns >= 0 ? Math.round(ns) : 0;
    const timer = new Timer(this.now() + delay, this.#seq++, callback);
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
    if (timer.deadline < this.floats[Float.deadline]!) this.floats[Float.deadline] = timer.deadline;
    return timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && earlier(heap[r]!, heap[l]!) ? r : l;
      if (!earlier(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }

  #fireTimers(): void {
    const now = this.now();
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined) break;
      if (top.callback === undefined) {
        this.#pop();
        continue;
      }
      if (top.deadline > now) break;
      this.#pop();
      const callback = top.callback;
      top.callback = undefined;
      callback();
    }
    while (this.#heap.length > 0 && this.#heap[0]!.callback === undefined) this.#pop();
    this.floats[Float.deadline] = this.#heap[0]?.deadline ?? Number.POSITIVE_INFINITY;
  }

  // ---- the turn ----------------------------------------------------------------------------

  /** One turn: stop requests, ready devices, due timers. Called by the vCPU; never blocks. */
  poll(): void {
    if (this.exited) return;
    if (Atomics.exchange(this.words, Word.stop, 0) !== 0) this.#onStop?.();
    let ready0 = Atomics.exchange(this.words, Word.ready0, 0);
    let ready1 = Atomics.exchange(this.words, Word.ready1, 0);
    for (let index = 0; ready0 !== 0 || ready1 !== 0; index++) {
      const word = index < 32 ? ready0 : ready1;
      const bit = 1 << (index & 31);
      if ((word & bit) !== 0) {
        if (index < 32) ready0 &= ~bit;
        else ready1 &= ~bit;
        this.#handlers[index]?.();
      }
    }
    this.#fireTimers();
  }

  // ---- console -----------------------------------------------------------------------------

  /** Writes to the machine's console: `err` goes to the tender's standard error. */
  write(data: string | Uint8Array, err = false): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const tag = Uint8Array.of(err ? ConsoleStream.err : ConsoleStream.out);
    if (bytes.length === 0) return;
    const max = this.#out.maxPayload - 1;
    for (let at = 0; at < bytes.length; at += max) {
      const chunk = bytes.subarray(at, at + max);
      if (this.#backlog.length === 0 && this.#out.push(tag, chunk)) continue;
      if (this.#backlogBytes + chunk.length > CONSOLE_BACKLOG_BYTES) {
        this.consoleDropped += chunk.length;
        continue;
      }
      this.#backlog.push([tag[0]!, chunk.slice()]);
      this.#backlogBytes += chunk.length;
      this.#out.setFlag(ConsoleOutFlag.notify);
    }
    this.notify();
  }

  /** Resolves once everything written so far has been taken by the tender. */
  flush(): Promise<void> {
    if (this.#backlog.length === 0 && this.#out.empty) return Promise.resolve();
    return new Promise((resolve) => {
      this.#flushWaiters.push(resolve);
      // Ask the tender to raise the console's ready bit once it has consumed the ring.
      this.#out.setFlag(ConsoleOutFlag.notify);
      this.notify();
    });
  }

  /** Subscribes to console input; `undefined` marks its end. Starts the tender reading its input. */
  listenInput(listener: (chunk: Uint8Array | undefined) => void): void {
    this.#inputListeners.push(listener);
    this.#in.setFlag(ConsoleInFlag.wanted);
    this.notify();
    this.raise(CONSOLE_READY);
  }

  #consoleReady(): void {
    while (this.#backlog.length > 0) {
      const [tag, chunk] = this.#backlog[0]!;
      if (!this.#out.push(Uint8Array.of(tag), chunk)) break;
      this.#backlog.shift();
      this.#backlogBytes -= chunk.length;
      this.notify();
    }
    if (this.#backlog.length > 0 || this.#flushWaiters.length > 0)
      this.#out.setFlag(ConsoleOutFlag.notify);
    if (this.#backlog.length === 0 && this.#out.empty) {
      for (const resolve of this.#flushWaiters.splice(0)) resolve();
    }
    if (this.#inputListeners.length > 0) {
      this.#in.drain((chunk) => {
        const copy = chunk.slice();
        for (const listener of this.#inputListeners) listener(copy);
      });
      if ((this.#in.flags & ConsoleInFlag.ended) !== 0 && !this.#in.pending) {
        for (const listener of this.#inputListeners.splice(0)) listener(undefined);
      }
    }
  }

  // ---- exit --------------------------------------------------------------------------------

  /** Flushes the console, then ends the image with `status` (0..255). */
  exit(status: number): void {
    if (this.#exiting) return;
    this.#exiting = true;
    void this.flush().then(() => this.halt(status));
  }

  /** Ends the image now. */
  halt(status: number): void {
    this.words[Word.exitStatus] = status & 255;
    Atomics.store(this.words, Word.state, State.exited);
    this.notify();
  }
}
