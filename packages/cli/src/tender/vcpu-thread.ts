// Starting the vCPU's thread. A Worker takes a few tens of milliseconds to
// boot Node inside it, so `atoll run` starts one first thing (bin/atoll.mjs),
// before it loads the tender's modules and reads the image: the two overlap.
// This module imports nothing heavy (vcpu.ts has no imports), so that it loads at once.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { vcpuModuleSource } from "./vcpu.js";

export const DEFAULT_MEMORY_MB = 128;
export const MIN_MEMORY_MB = 16;

/** A vCPU thread started ahead of the image, for one memory limit. */
export interface PrestartedVcpu {
  readonly memoryMb: number;
  /** The thread, if it was started for `memoryMb` and not taken yet. */
  take(memoryMb: number): Worker | undefined;
  /** Ends the thread unless it was taken. */
  dispose(): void;
}

/** Starts a vCPU thread with the image's memory limit; `url` is the vCPU module. */
export function startVcpuThread(url: URL, memoryMb: number): Worker {
  return new Worker(url, {
    name: "atoll image",
    // The realm's import() is refused by a callback only vm modules support.
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
}

let moduleUrl: URL | undefined;

/**
 * The vCPU's module: the built file next to this one (dist/vcpu-worker.js), or
 * (running from the sources) the same function as a data: URL.
 */
export function vcpuModuleUrl(): URL {
  if (moduleUrl !== undefined) return moduleUrl;
  const built = new URL("./vcpu-worker.js", import.meta.url);
  moduleUrl =
    built.protocol === "file:" && existsSync(fileURLToPath(built))
      ? built
      : new URL(`data:text/javascript,${encodeURIComponent(vcpuModuleSource())}`);
  return moduleUrl;
}

/**
 * Starts a vCPU thread ahead of the image it will run: `atoll run ARGS` does
 * so first thing, with the `--mem` the arguments give (the default
 * otherwise); a program that starts images on demand can keep one ready.
 */
export function prestartVcpu(argv: readonly string[] = []): PrestartedVcpu | undefined {
  let memoryMb = DEFAULT_MEMORY_MB;
  for (const token of argv) {
    if (token === "--") break;
    const mem = /^--mem=(\d+)$/.exec(token);
    if (mem !== null) memoryMb = Number(mem[1]);
  }
  if (!Number.isSafeInteger(memoryMb) || memoryMb < MIN_MEMORY_MB) return undefined;
  let worker: Worker | undefined = startVcpuThread(vcpuModuleUrl(), memoryMb);
  return {
    memoryMb,
    take(wanted) {
      if (wanted !== memoryMb) return undefined;
      const taken = worker;
      worker = undefined;
      return taken;
    },
    dispose() {
      void worker?.terminate();
      worker = undefined;
    },
  };
}
