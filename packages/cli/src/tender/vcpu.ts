// The vCPU: the tender's code inside the image's worker thread. It creates the
// image's realm (a fresh V8 context: ECMAScript built-ins only), evaluates the
// image in it and then runs turns: write the time, run the image's poll,
// ring the tender's doorbell if the image produced, and sleep until the
// image's deadline or a wake-up (Solo5's yield(deadline, ready-set)).
//
// It never calls a function of the image, never hands it an object, and never
// reads an object it returns: every entry into the image is a script run in
// the image's context, so anything created during a call (a Proxy trap's
// argument list, an error) belongs to the image's realm. `import()` inside the
// realm rejects with an error made by the realm itself.
//
// The function is serialized with toString into a data: URL module for the
// worker, so it references nothing but its parameters.

import type * as NodeUtil from "node:util";
import type * as NodeV8 from "node:v8";
import type * as NodeVm from "node:vm";
import type * as NodeWorker from "node:worker_threads";
import type { Float, Word } from "../abi.js";

/** The vCPU's first message: the image, and the constants of the layout. */
export interface VcpuData {
  /** The image, already turned into a script that leaves its start function on the global object. */
  readonly script: string;
  readonly lockdown: string;
  /** Heap limit for what the image allocates outside the V8 heap (array buffers), in bytes. */
  readonly externalLimit: number;
  /** The tender's clock origin: performance.timeOrigin + performance.now() at boot, ms. */
  readonly originMs: number;
  readonly word: Readonly<Record<keyof typeof Word, number>>;
  readonly float: Readonly<Record<keyof typeof Float, number>>;
  readonly exited: number;
  readonly exitCodes: typeof VcpuExit;
}

/** Sent by the tender once the devices are open: the memory image to start from. */
export interface VcpuBoot {
  readonly memory: Uint8Array;
}

/** Exit codes of the worker thread: how the image stopped, for the tender. */
export const VcpuExit = {
  /** The image ended itself; its status is in the shared memory. */
  exited: 0,
  /** The image's code did not evaluate (not a sealed image, a syntax error). */
  badImage: 90,
  /** The image threw out of a turn: abort. */
  threw: 91,
  /** The image went over its memory allowance outside the heap. */
  memory: 92,
} as const;

export interface VcpuModules {
  readonly vm: typeof NodeVm;
  readonly v8: typeof NodeV8;
  readonly util: typeof NodeUtil;
  readonly worker: typeof NodeWorker;
}

export function vcpuMain(modules: VcpuModules): void {
  const { vm, v8, util, worker } = modules;
  const port = worker.parentPort!;
  const exit = (code: number) => process.exit(code);

  // The realm is made as soon as the thread starts, while the tender still reads the image.
  const context = vm.createContext(vm.constants.DONT_CONTEXTIFY, {
    name: "atoll image",
    codeGeneration: { strings: true, wasm: false },
    microtaskMode: "afterEvaluate",
  });
  // Evaluated in the realm, so the rejection of import() is one of the realm's own errors.
  const refusal = new vm.Script(
    'new TypeError("import() is not available in a sealed image: the image reaches only its devices")',
  );
  // Node settles a refused import() through the worker's own microtasks, which a thread
  // sleeping in Atomics.wait never runs: after such a turn the vCPU lets them run once.
  let importRefused = false;
  const options = (filename: string) => ({
    filename,
    importModuleDynamically: (() => {
      importRefused = true;
      throw refusal.runInContext(context);
    }) as never,
  });
  const script = (source: string, filename: string) => new vm.Script(source, options(filename));
  const turn = script('void globalThis[Symbol.for("atoll.poll")]()', "atoll:turn");
  const drain = script("void 0", "atoll:drain");

  // First message: the image and the layout's constants; second: the boot memory.
  port.once("message", (data: VcpuData) => {
    const W = data.word;
    const X = data.exitCodes;
    const F = data.float;
    let image: NodeVm.Script;
    try {
      script(data.lockdown, "atoll:lockdown").runInContext(context);
      image = script(data.script, "image.js");
    } catch {
      exit(X.badImage);
      return;
    }
    port.once("message", (boot: VcpuBoot) => void run(data, W, X, F, image, boot));
  });

  const run = async (
    data: VcpuData,
    W: VcpuData["word"],
    X: VcpuData["exitCodes"],
    F: VcpuData["float"],
    image: NodeVm.Script,
    boot: VcpuBoot,
  ) => {
    const memory: unknown = script(
      `globalThis[Symbol.for("atoll.memory")] = new SharedArrayBuffer(${boot.memory.length})`,
      "atoll:memory",
    ).runInContext(context);
    if (!util.types.isSharedArrayBuffer(memory) || util.types.isProxy(memory)) {
      exit(X.badImage);
      return;
    }
    new Uint8Array(memory).set(boot.memory);
    const words = new Int32Array(memory);
    const floats = new Float64Array(memory);
    const now = () => (performance.timeOrigin + performance.now() - data.originMs) * 1e6;
    port.postMessage(memory);

    floats[F.now] = now();
    try {
      image.runInContext(context);
      script(
        'globalThis[Symbol.for("atoll.poll")] = globalThis[Symbol.for("atoll.start")](globalThis[Symbol.for("atoll.memory")])',
        "atoll:boot",
      ).runInContext(context);
    } catch {
      exit(X.badImage);
      return;
    }

    const ring = () => {
      Atomics.add(words, W.doorbell, 1);
      Atomics.notify(words, W.doorbell);
    };
    let nextMemoryCheck = 0;
    for (;;) {
      const t = now();
      floats[F.now] = t;
      try {
        turn.runInContext(context);
        while (importRefused) {
          importRefused = false;
          await new Promise((resolve) => setImmediate(resolve));
          drain.runInContext(context);
        }
      } catch {
        ring();
        exit(X.threw);
        return;
      }
      if (Atomics.load(words, W.state) === data.exited) break;
      if (Atomics.exchange(words, W.pending, 0) !== 0) ring();
      if (t >= nextMemoryCheck) {
        nextMemoryCheck = t + 20e6;
        const stats = v8.getHeapStatistics() as { external_memory?: number };
        if ((stats.external_memory ?? 0) > data.externalLimit) {
          ring();
          exit(X.memory);
          return;
        }
      }
      const seen = Atomics.load(words, W.wake);
      if ((words[W.ready0]! | words[W.ready1]! | words[W.stop]!) !== 0) continue;
      const deadline = floats[F.deadline]!;
      // The image writes its deadline: anything but a number in range means "no timer".
      const wait =
        deadline >= 0 && deadline < 1e300 ? (deadline - now()) / 1e6 : Number.POSITIVE_INFINITY;
      if (wait <= 0) continue;
      Atomics.wait(words, W.wake, seen, wait);
    }
    ring();
    exit(X.exited);
  };
}

/** The worker's module: imports what the vCPU needs and runs it. */
export function vcpuModuleSource(): string {
  return [
    'import vm from "node:vm";',
    'import v8 from "node:v8";',
    'import util from "node:util";',
    'import * as worker from "node:worker_threads";',
    "const __name = (f) => f;",
    `(${vcpuMain.toString()})({ vm, v8, util, worker });`,
  ].join("\n");
}
