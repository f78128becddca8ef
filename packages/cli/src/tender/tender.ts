// The tender: runs a sealed image with nothing but its declared devices.
// Checks every slot is attached (and nothing else is) before anything starts,
// opens the host resources, starts the image's vCPU in a worker thread with
// the memory limit, and serves the image's rings: console to stdout/stderr,
// network slots to netif drivers, block slots to disk images. The image's exit
// status becomes the tender's (0, 1, 255 as Solo5; 2 for usage errors).

import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { Worker } from "node:worker_threads";
import { AtollError } from "@atoll/core";
import type { Netif } from "@atoll/netif";
import {
  BLOCK_REQUEST_HEADER,
  BLOCK_RESPONSE_HEADER,
  BlockOp,
  BlockStatus,
  type BootInfo,
  type BootSlot,
  ConsoleInFlag,
  ConsoleOutFlag,
  ConsoleStream,
  Float,
  providedKinds,
  type SlotKind,
  State,
  slotKinds,
  Word,
} from "../abi.js";
import type { Block } from "../image/devices.js";
import type { ParsedImage } from "../manifest.js";
import { RingConsumer, RingProducer } from "../ring.js";
import { FileImageBlock } from "./file-block.js";
import { loadImage, toScript } from "./image-file.js";
import { layoutMemory, type SlotSpec } from "./layout.js";
import { lockdownSource } from "./lockdown.js";
import { switchPort } from "./switch.js";
import { type VcpuBoot, type VcpuData, VcpuExit, vcpuModuleSource } from "./vcpu.js";

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

/** How a network slot is attached: `tapN`, `switch:NAME`, or (programmatically) a host Netif. */
export type NetAttachment = string | Netif;
/** How a block slot is attached: a disk image path, or (programmatically) a host Block. */
export type BlockAttachment = string | Block;

export interface Attachments {
  readonly net?: Readonly<Record<string, NetAttachment>>;
  readonly block?: Readonly<Record<string, BlockAttachment>>;
  readonly kv?: Readonly<Record<string, string>>;
}

export interface TenderOptions extends Attachments {
  /** The application's arguments (what follows `--`). */
  readonly argv?: readonly string[];
  /** The image's heap limit in MiB (default 128; at least 16). */
  readonly memoryMb?: number;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  readonly stdin?: Readable;
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

export const DEFAULT_MEMORY_MB = 128;
export const MIN_MEMORY_MB = 16;

const kindWords: Record<SlotKind, string> = {
  console: "console",
  clock: "monotonic clock",
  wallclock: "wall clock",
  time: "timer",
  random: "random generator",
  net: "network",
  block: "block",
};

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
    if (kind === "kv") {
      problems.push(
        `slot "${slot}" is a ${kindWords[slotKind]} slot (${id}); kv slots are not part of boundary ABI 1`,
      );
    } else if (providedKinds.has(slotKind)) {
      problems.push(
        `slot "${slot}" is a ${kindWords[slotKind]} slot (${id}), which the tender provides itself: drop --${kind}:${slot}`,
      );
    } else if (slotKind !== kind) {
      problems.push(
        `slot "${slot}" is a ${kindWords[slotKind]} slot (${id}), not a ${kindWords[kind]} slot: attach it with --${slotKind}:${slot}=${slotKind === "net" ? "tapN|switch:NAME" : "PATH"}`,
      );
    } else if (kind === "net") {
      const value = attachments.net![slot]!;
      if (typeof value === "string" && !/^(tap\d+|switch:[\w.-]+)$/.test(value))
        problems.push(
          `--net:${slot}=${value}: expected tapN (a TAP interface such as tap0) or switch:NAME`,
        );
    } else if (kind === "block") {
      const value = attachments.block![slot]!;
      if (typeof value === "string" && value === "")
        problems.push(`--block:${slot}= needs the path of a disk image`);
    }
  }
  for (const [slot, id] of Object.entries(slots)) {
    const kind = slotKinds[id]!;
    if (providedKinds.has(kind) || given.has(slot)) continue;
    problems.push(
      `slot "${slot}" (${id}) is not attached: give --${kind}:${slot}=${kind === "net" ? "tapN|switch:NAME" : "PATH"}`,
    );
  }
  return problems;
}

interface Opened {
  readonly specs: SlotSpec[];
  readonly net: Map<string, Netif>;
  readonly block: Map<string, Block>;
  close(): Promise<void>;
}

async function openDevices(image: ParsedImage, attachments: Attachments): Promise<Opened> {
  const specs: SlotSpec[] = [];
  const net = new Map<string, Netif>();
  const block = new Map<string, Block>();
  const closers: Array<() => unknown> = [];
  const problems: string[] = [];
  for (const [name, signature] of Object.entries(image.manifest.slots)) {
    const kind = slotKinds[signature]!;
    try {
      if (kind === "net") {
        const netif = await openNet(name, attachments.net![name]!, closers);
        net.set(name, netif);
        const mac = [...netif.mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
        specs.push({ kind, name, signature, mac, mtu: netif.mtu });
      } else if (kind === "block") {
        const value = attachments.block![name]!;
        let device: Block;
        if (typeof value === "string") {
          const file = await FileImageBlock.open(value);
          closers.push(() => file.close());
          device = file;
        } else device = value;
        block.set(name, device);
        specs.push({ kind, name, signature, ...device.info() });
      } else if (kind === "random") {
        specs.push({ kind, name, signature, seed: randomBytes(32).toString("hex") });
      } else {
        specs.push({ kind, name, signature });
      }
    } catch (error) {
      problems.push(`slot "${name}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  if (problems.length > 0) {
    await close();
    throw new AttachError("ATOLL_ATTACH_FAILED", problems);
  }
  return { specs, net, block, close };
}

async function openNet(
  slot: string,
  value: NetAttachment,
  closers: Array<() => unknown>,
): Promise<Netif> {
  if (typeof value !== "string") return value;
  if (value.startsWith("switch:")) {
    const port = switchPort(value.slice("switch:".length));
    closers.push(() => port.close());
    return port.netif;
  }
  // TAP devices come from @atoll/netif-tap, loaded only when asked for.
  let tap:
    | ((options: { name: string }) => {
        connect: (...a: never[]) => unknown;
        disconnect?: (d: never) => unknown;
      })
    | undefined;
  try {
    const specifier = "@atoll/netif-tap";
    tap = ((await import(specifier)) as { tap?: typeof tap }).tap;
  } catch {
    tap = undefined;
  }
  if (tap === undefined)
    throw new Error(
      `--net:${slot}=${value} needs the TAP driver, @atoll/netif-tap, which is not installed`,
    );
  const d = tap({ name: value });
  const netif = (await (d.connect as (...a: unknown[]) => unknown)(
    {},
    { name: value },
    {},
  )) as Netif;
  closers.push(() => d.disconnect?.(netif as never));
  return netif;
}

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

let vcpuUrl: URL | undefined;

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
  vcpuUrl ??= new URL(`data:text/javascript,${encodeURIComponent(vcpuModuleSource())}`);
  const worker = new Worker(vcpuUrl, {
    name: `atoll image ${image.manifest.name}`,
    workerData: data,
    execArgv: ["--experimental-vm-modules", "--no-warnings"],
    env: {},
    stdin: false,
    stdout: true,
    stderr: true,
    resourceLimits: {
      maxOldGenerationSizeMb: memoryMb,
      maxYoungGenerationSizeMb: Math.max(1, Math.min(16, memoryMb >> 3)),
    },
  });
  let opened: Opened;
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

interface NetPort {
  readonly slot: BootSlot & { kind: "net" };
  readonly netif: Netif;
  readonly tx: RingConsumer;
  readonly rx: RingProducer;
}

interface BlockPort {
  readonly slot: BootSlot & { kind: "block" };
  readonly device: Block;
  readonly req: RingConsumer;
  readonly resp: RingProducer;
  busy: boolean;
}

class Tender {
  readonly done: Promise<TenderResult>;
  #resolve!: (result: TenderResult) => void;
  #memory: SharedArrayBuffer | undefined;
  #words: Int32Array | undefined;
  #consoleOut: RingConsumer | undefined;
  #consoleIn: RingProducer | undefined;
  #net: NetPort[] = [];
  #block: BlockPort[] = [];
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
    readonly opened: Opened,
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
    this.#consoleOut = new RingConsumer(memory, console.out, console.out[1] >> 1, true);
    this.#consoleIn = new RingProducer(memory, console.in);
    for (const slot of this.boot.slots) {
      if (slot.kind === "net") {
        const netif = this.opened.net.get(slot.name)!;
        const port: NetPort = {
          slot,
          netif,
          tx: new RingConsumer(memory, slot.tx, slot.mtu + 14, true),
          rx: new RingProducer(memory, slot.rx),
        };
        netif.listen((frame) => {
          if (!this.#running) return;
          if (frame.length > slot.mtu + 14 || !port.rx.push(frame)) port.rx.countDrop();
          else this.#raise(slot.index);
        });
        this.#net.push(port);
      } else if (slot.kind === "block") {
        this.#block.push({
          slot,
          device: this.opened.block.get(slot.name)!,
          req: new RingConsumer(memory, slot.req, BLOCK_REQUEST_HEADER + slot.maxIo, true),
          resp: new RingProducer(memory, slot.resp),
          busy: false,
        });
      }
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
    for (const port of this.#net) {
      port.tx.drain((frame) => {
        port.netif.write(frame);
      });
      this.#record(`network slot "${port.slot.name}" transmit ring`, port.tx);
    }
    for (const port of this.#block) void this.#serveBlock(port);
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
      this.#raise(0);
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
        this.#raise(0);
        continue;
      }
      const piece = chunk.subarray(0, input.maxPayload);
      if (!input.push(piece)) break;
      this.#raise(0);
      if (piece.length === chunk.length) this.#stdinBacklog.shift();
      else this.#stdinBacklog[0] = chunk.subarray(piece.length);
    }
    if (this.#stdinBacklog.length > 2) this.#stdin.pause();
    else if (this.#stdinStarted) this.#stdin.resume();
  }

  async #serveBlock(port: BlockPort): Promise<void> {
    if (port.busy) return;
    port.busy = true;
    try {
      while (this.#running) {
        let request: Uint8Array | undefined;
        port.req.drain((entry) => {
          if (port.resp.free() < BLOCK_RESPONSE_HEADER + port.slot.maxIo + 8) return false;
          request = entry.slice();
        }, 1);
        this.#record(`block slot "${port.slot.name}" request ring`, port.req);
        if (request === undefined) break;
        const response = await this.#blockRequest(port, request);
        if (!port.resp.push(response.header, response.data)) port.resp.countDrop();
        this.#raise(port.slot.index);
      }
    } finally {
      port.busy = false;
    }
  }

  async #blockRequest(
    port: BlockPort,
    request: Uint8Array,
  ): Promise<{ header: Uint8Array; data?: Uint8Array }> {
    const header = new Uint8Array(BLOCK_RESPONSE_HEADER);
    const out = new DataView(header.buffer);
    const answer = (status: number, data?: Uint8Array) => {
      out.setInt32(4, status, true);
      out.setUint32(8, data?.length ?? 0, true);
      return data === undefined ? { header } : { header, data };
    };
    if (request.length < BLOCK_REQUEST_HEADER) {
      this.#violation(`block slot "${port.slot.name}": a request of ${request.length} bytes`);
      return answer(BlockStatus.invalid);
    }
    const view = new DataView(request.buffer, request.byteOffset, request.length);
    out.setUint32(0, view.getUint32(0, true), true);
    const op = view.getUint32(4, true);
    const sector = view.getFloat64(8, true);
    const length = view.getUint32(16, true);
    const { sectorSize, sectorCount, maxIo } = port.slot;
    const payload = request.subarray(BLOCK_REQUEST_HEADER);
    const bad = (why: string) => {
      this.#violation(`block slot "${port.slot.name}": ${why}`);
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
            await port.device.write(sector, payload);
            return answer(BlockStatus.ok);
          }
          const data = new Uint8Array(length);
          await port.device.read(sector, data);
          return answer(BlockStatus.ok, data);
        }
        case BlockOp.flush:
          await port.device.flush();
          return answer(BlockStatus.ok);
        case BlockOp.discard:
          if (sector + length > sectorCount) return answer(BlockStatus.outOfRange);
          await port.device.discard(sector, length);
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

  #record(where: string, ring: RingConsumer): void {
    if (ring.errors === 0) return;
    this.#violation(`${where}: ${ring.lastError}`);
    ring.errors = 0;
  }

  #violation(message: string): void {
    if (this.#violations.length < 100) this.#violations.push(message);
  }

  #raise(index: number): void {
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
