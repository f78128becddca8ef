// The tender: runs a sealed image with nothing but its declared devices.
// Checks every slot is attached (and nothing else is) before anything starts,
// opens the host resources, starts the image's vCPU in a worker thread with
// the memory limit, and serves the image's rings: console to stdout/stderr,
// network slots to netif drivers, block slots to disk images. The image's exit
// status becomes the tender's (0, 1, 255 as Solo5; 2 for usage errors).

import type { Readable, Writable } from "node:stream";
import type { Worker } from "node:worker_threads";
import {
  type BootInfo,
  ConsoleInFlag,
  ConsoleOutFlag,
  ConsoleStream,
  Float,
  State,
  Word,
} from "../abi.js";
import { formatAppHelp, wantsAppHelp } from "../help.js";
import type { ParsedImage } from "../manifest.js";
import { CopyingRingConsumer, type RingConsumer, RingProducer } from "../ring.js";
import {
  AttachError,
  type Attachments,
  checkAttachments,
  type OpenedDevices,
  openDevices,
} from "./attach.js";
import { loadImage, toScript } from "./image-file.js";
import { layoutMemory } from "./layout.js";
import { lockdownSource } from "./lockdown.js";
import { BlockServer, KvServer, NetServer, type ServerHost } from "./serve.js";
import { type VcpuBoot, type VcpuData, VcpuExit } from "./vcpu.js";
import {
  DEFAULT_MEMORY_MB,
  MIN_MEMORY_MB,
  type PrestartedVcpu,
  startVcpuThread,
  vcpuModuleUrl,
} from "./vcpu-thread.js";

export {
  AttachError,
  type Attachments,
  type BlockAttachment,
  type BlockPath,
  checkAttachments,
  type KvAttachment,
  type NetAttachment,
} from "./attach.js";

export interface TenderOptions extends Attachments {
  /** The application's arguments (what follows `--`). */
  readonly argv?: readonly string[];
  /** The image's heap limit in MiB (default 128; at least 16). */
  readonly memoryMb?: number;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  readonly stdin?: Readable;
  /** A vCPU thread started ahead of time (`prestartVcpu`), used when its memory limit matches. */
  readonly vcpu?: PrestartedVcpu;
}

export type TenderOutcome = "exit" | "abort" | "memory" | "bad-image";

export interface TenderResult {
  /** The tender's exit status: the image's (0..255), 255 for an abort, 2 for an unusable image. */
  readonly status: number;
  readonly outcome: TenderOutcome;
  /** Why the image stopped, when it did not end by itself. */
  readonly message?: string;
  /** Boundary ABI violations the tender saw (and survived): malformed ring entries, bad requests. */
  readonly violations: readonly string[];
}

export interface RunningImage {
  readonly name: string;
  readonly done: Promise<TenderResult>;
  /** Asks the image to stop (its unikernel's stop(): cleanup, disconnect, exit). */
  stop(): void;
  /** Ends the image's thread at once (a second Ctrl-C). */
  kill(): Promise<void>;
}

export {
  DEFAULT_MEMORY_MB,
  MIN_MEMORY_MB,
  type PrestartedVcpu,
  prestartVcpu,
} from "./vcpu-thread.js";

// Atomics.waitAsync is in Node since 16; TypeScript's lib has it from ES2024.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      i: number,
      v: number,
    ): { async: boolean; value: Promise<unknown> | string };
  }
).waitAsync;

/**
 * Starts an image: checks and attaches its slots (throwing ImageError or
 * AttachError before anything runs), then runs it in its own thread.
 */
export async function startImage(
  source: string | ParsedImage,
  options: TenderOptions = {},
): Promise<RunningImage> {
  const path = typeof source === "string" ? source : "image";
  const image = typeof source === "string" ? loadImage(source) : source;
  // The tender answers --help from the manifest: the image carries no help text.
  if (wantsAppHelp(options.argv ?? [])) {
    (options.stdout ?? process.stdout).write(formatAppHelp(image.manifest));
    return {
      name: image.manifest.name,
      done: Promise.resolve({ status: 0, outcome: "exit", violations: [] }),
      stop: () => {},
      kill: async () => {},
    };
  }
  const problems = checkAttachments(image, options);
  if (problems.length > 0) throw new AttachError("ATOLL_SLOT_INVALID", problems);
  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
  if (!Number.isInteger(memoryMb) || memoryMb < MIN_MEMORY_MB)
    throw new AttachError("ATOLL_SLOT_INVALID", [
      `--mem=${memoryMb}: expected an integer number of MiB >= ${MIN_MEMORY_MB}`,
    ]);

  // Start the thread first: its start-up overlaps with opening the devices.
  const originMs = performance.timeOrigin + performance.now();
  const wallEpochMs = Date.now();
  const data: VcpuData = {
    script: toScript(image.code)!,
    lockdown: lockdownSource(),
    externalLimit: memoryMb * 1024 * 1024,
    originMs,
    word: Word,
    float: Float,
    exited: State.exited,
    exitCodes: VcpuExit,
  };
  const worker = options.vcpu?.take(memoryMb) ?? startVcpuThread(vcpuModuleUrl(), memoryMb);
  worker.postMessage(data);
  let opened: OpenedDevices;
  try {
    opened = await openDevices(image, options);
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  const tz = -new Date().getTimezoneOffset() * 60;
  const layout = layoutMemory(opened.specs, options.argv ?? [], wallEpochMs, tz);
  const tender = new Tender(image, path, worker, layout.boot, opened, options, memoryMb);
  worker.postMessage({ memory: layout.memory } satisfies VcpuBoot);
  return {
    name: image.manifest.name,
    done: tender.done,
    stop: () => tender.requestStop(),
    kill: async () => {
      await worker.terminate();
    },
  };
}

/** Runs an image to its end. */
export async function runImage(
  source: string | ParsedImage,
  options: TenderOptions = {},
): Promise<TenderResult> {
  return (await startImage(source, options)).done;
}

class Tender implements ServerHost {
  readonly done: Promise<TenderResult>;
  #resolve!: (result: TenderResult) => void;
  #memory: SharedArrayBuffer | undefined;
  #words: Int32Array | undefined;
  #consoleOut: RingConsumer | undefined;
  #consoleIn: RingProducer | undefined;
  #net: NetServer[] = [];
  #block: BlockServer[] = [];
  #kv: KvServer[] = [];
  #violations: string[] = [];
  #running = true;
  #wakeQueued = false;
  #stdinStarted = false;
  #stdinBacklog: Uint8Array[] = [];
  #blockedOn: Writable | undefined;
  #stopRequested = false;
  #workerError: Error | undefined;
  #watchdog: ReturnType<typeof setInterval>;
  #overMemory = false;
  readonly #stdout: Writable;
  readonly #stderr: Writable;
  readonly #stdin: Readable;

  constructor(
    readonly image: ParsedImage,
    readonly path: string,
    readonly worker: Worker,
    readonly boot: BootInfo,
    readonly opened: OpenedDevices,
    options: TenderOptions,
    readonly memoryMb: number,
  ) {
    this.#stdout = options.stdout ?? process.stdout;
    this.#stderr = options.stderr ?? process.stderr;
    this.#stdin = options.stdin ?? process.stdin;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    worker.once("message", (memory: SharedArrayBuffer) => this.#attach(memory));
    worker.on("error", (error) => {
      this.#workerError = error;
    });
    worker.once("exit", (code) => void this.#finish(code));
    // The vCPU checks memory outside the heap between turns; an image allocating buffers in a
    // loop that never yields is caught here, from the growth of the process's resident memory.
    const baseline = process.memoryUsage.rss();
    this.#watchdog = setInterval(() => {
      if (process.memoryUsage.rss() - baseline > (2 * this.memoryMb + 64) * 1024 * 1024) {
        this.#overMemory = true;
        void worker.terminate();
      }
    }, 50);
    this.#watchdog.unref();
    // The worker's own output is the vCPU's (the image has no way to it); keep it off the terminal.
    worker.stdout?.resume();
    worker.stderr?.resume();
  }

  requestStop(): void {
    this.#stopRequested = true;
    if (this.#words === undefined) return;
    Atomics.store(this.#words, Word.stop, 1);
    this.#wakeNow();
  }

  #attach(memory: SharedArrayBuffer): void {
    this.#memory = memory;
    this.#words = new Int32Array(memory);
    // Ring places come from the tender's own layout, never from the (writable) shared memory.
    const { console } = this.boot;
    this.#consoleOut = new CopyingRingConsumer(memory, console.out, console.out[1] >> 1);
    this.#consoleIn = new RingProducer(memory, console.in);
    for (const slot of this.boot.slots) {
      if (slot.kind === "net")
        this.#net.push(new NetServer(slot, this.opened.net.get(slot.name)!, memory, this));
      else if (slot.kind === "block")
        this.#block.push(new BlockServer(slot, this.opened.block.get(slot.name)!, memory, this));
      else if (slot.kind === "kv")
        this.#kv.push(new KvServer(slot, this.opened.kv.get(slot.name)!, memory, this));
    }
    if (this.#stopRequested) this.requestStop();
    void this.#serveLoop();
  }

  async #serveLoop(): Promise<void> {
    const words = this.#words!;
    let seen = Atomics.load(words, Word.doorbell);
    while (this.#running) {
      this.#serve();
      const wait = waitAsync(words, Word.doorbell, seen);
      if (wait.async) await wait.value;
      seen = Atomics.load(words, Word.doorbell);
    }
  }

  /** Takes what the image produced: console output, frames, block requests. */
  #serve(): void {
    if (this.#memory === undefined) return;
    this.#serveConsole();
    for (const server of this.#net) server.serve();
    for (const server of this.#block) server.serve();
    for (const server of this.#kv) server.serve();
  }

  #serveConsole(): void {
    const out = this.#consoleOut!;
    if (this.#blockedOn === undefined) {
      out.drain((entry) => {
        if (entry.length === 0) return;
        const stream = entry[0] === ConsoleStream.err ? this.#stderr : this.#stdout;
        stream.write(Buffer.from(entry.subarray(1)));
        if (stream.writableNeedDrain) {
          // The host is slower than the image: stop taking output until it drains.
          this.#blockedOn = stream;
          stream.once("drain", () => {
            this.#blockedOn = undefined;
            this.#serve();
          });
          return;
        }
      });
      this.#record("console ring", out);
    }
    if (this.#blockedOn === undefined && (out.flags & ConsoleOutFlag.notify) !== 0) {
      out.clearFlag(ConsoleOutFlag.notify);
      this.raise(0);
    }
    const input = this.#consoleIn!;
    if (!this.#stdinStarted && (input.flags & ConsoleInFlag.wanted) !== 0) this.#startInput();
    this.#pushInput();
  }

  #startInput(): void {
    this.#stdinStarted = true;
    const stdin = this.#stdin;
    stdin.on("data", (chunk: Buffer | string) => {
      this.#stdinBacklog.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      this.#pushInput();
    });
    stdin.once("end", () => {
      this.#stdinBacklog.push(new Uint8Array(0));
      this.#pushInput();
    });
    stdin.resume();
  }

  #pushInput(): void {
    const input = this.#consoleIn!;
    while (this.#stdinBacklog.length > 0) {
      const chunk = this.#stdinBacklog[0]!;
      if (chunk.length === 0) {
        input.setFlag(ConsoleInFlag.ended);
        this.#stdinBacklog.shift();
        this.raise(0);
        continue;
      }
      const piece = chunk.subarray(0, input.maxPayload);
      if (!input.push(piece)) break;
      this.raise(0);
      if (piece.length === chunk.length) this.#stdinBacklog.shift();
      else this.#stdinBacklog[0] = chunk.subarray(piece.length);
    }
    if (this.#stdinBacklog.length > 2) this.#stdin.pause();
    else if (this.#stdinStarted) this.#stdin.resume();
  }

  #record(where: string, ring: RingConsumer): void {
    if (ring.errors === 0) return;
    this.violation(`${where}: ${ring.lastError}`);
    ring.errors = 0;
  }

  get running(): boolean {
    return this.#running;
  }

  violation(message: string): void {
    if (this.#violations.length < 100) this.#violations.push(message);
  }

  raise(index: number): void {
    const words = this.#words;
    if (words === undefined || !this.#running) return;
    Atomics.or(words, index < 32 ? Word.ready0 : Word.ready1, 1 << (index & 31));
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(() => {
      this.#wakeQueued = false;
      this.#wakeNow();
    });
  }

  #wakeNow(): void {
    const words = this.#words;
    if (words === undefined) return;
    Atomics.add(words, Word.wake, 1);
    Atomics.notify(words, Word.wake);
  }

  async #finish(code: number): Promise<void> {
    // Whatever the image wrote before it stopped still reaches the terminal.
    this.#serve();
    this.#running = false;
    clearInterval(this.#watchdog);
    if (this.#stdinStarted) this.#stdin.pause();
    await this.opened.close();
    const words = this.#words;
    const violations = this.#violations;
    const state = words === undefined ? State.booting : Atomics.load(words, Word.state);
    const name = this.image.manifest.name;
    if (this.#workerError !== undefined) {
      const oom = (this.#workerError as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
      this.#resolve({
        status: 255,
        outcome: oom ? "memory" : "abort",
        message: oom
          ? `${name} exceeded its memory (--mem=${this.memoryMb}): the JavaScript heap is full; the image was stopped`
          : `${name}'s thread failed: ${this.#workerError.message}`,
        violations,
      });
      return;
    }
    if (this.#overMemory) {
      this.#resolve({
        status: 255,
        outcome: "memory",
        message: `${name} exceeded its memory (--mem=${this.memoryMb}) with buffers outside the heap; the image was stopped`,
        violations,
      });
      return;
    }
    switch (code) {
      case VcpuExit.exited:
        if (state === State.exited) {
          this.#resolve({
            status: Atomics.load(words!, Word.exitStatus) & 255,
            outcome: "exit",
            violations,
          });
          return;
        }
        break;
      case VcpuExit.badImage:
        this.#resolve({
          status: 2,
          outcome: "bad-image",
          message: `${this.path} is corrupt: its code does not compile as an image`,
          violations,
        });
        return;
      case VcpuExit.threw:
        this.#resolve({
          status: 255,
          outcome: "abort",
          message: `${name} aborted: an exception escaped its event loop`,
          violations,
        });
        return;
      case VcpuExit.memory:
        this.#resolve({
          status: 255,
          outcome: "memory",
          message: `${name} exceeded its memory (--mem=${this.memoryMb}) with buffers outside the heap; the image was stopped`,
          violations,
        });
        return;
    }
    this.#resolve({
      status: 255,
      outcome: "abort",
      message: `${name} was stopped (thread exit ${code})`,
      violations,
    });
  }
}
