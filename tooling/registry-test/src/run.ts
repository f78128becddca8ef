// Running commands for the registry test: child processes with a clean npm
// environment, their output kept for the failure message, and progress lines
// with the time since the run began.

import { spawn } from "node:child_process";

const began = performance.now();

/** Prints a progress line: `[registry +12.3s] message`. */
export function progress(message: string): void {
  console.log(`[registry +${((performance.now() - began) / 1000).toFixed(1)}s] ${message}`);
}

export interface RunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Kill the command after this long (default 5 minutes). */
  readonly timeoutMs?: number;
  /** Resolve with the result instead of throwing when the command fails. */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(
      `${command} failed (exit ${result.code}) after ${(result.ms / 1000).toFixed(1)}s\n` +
        `--- stdout (tail)\n${result.stdout.slice(-6000)}\n--- stderr (tail)\n${result.stderr.slice(-6000)}`,
    );
  }
}

/** Runs `command args...` and collects its output; throws a CommandError when it fails. */
export function run(command: string, args: readonly string[], options: RunOptions) {
  const shown = [command, ...args].join(" ");
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs ?? 300_000} ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 300_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr, ms: performance.now() - started };
      if (code !== 0 && !options.allowFailure) reject(new CommandError(shown, result));
      else resolve(result);
    });
  });
}

/**
 * The environment for npm, pnpm and node children: this process's, without any
 * npm or pnpm configuration it inherited (a parent `pnpm run` exports some, CI
 * may set a registry) and without vitest's own variables, so a nested vitest
 * starts afresh. `extra` is added on top.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm|pnpm)_config_|^npm_(lifecycle|package)_|^VITEST|^PNPM_SCRIPT_SRC_DIR$/i.test(key))
      continue;
    env[key] = value;
  }
  return {
    ...env,
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    npm_config_loglevel: "warn",
    ...extra,
  };
}

/** Runs `tasks` with at most `limit` at a time, resolving with their results in order. */
export async function inParallel<T>(
  limit: number,
  tasks: readonly (() => Promise<T>)[],
): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
