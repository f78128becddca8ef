// The memory console: captures everything written and plays scripted input.
// For tests and simulations.

import { DisconnectedError, driver } from "@atoll/core";
import { InputQueue } from "./input.js";
import { Console } from "./signature.js";

const encoder = new TextEncoder();

export interface MemoryConsoleOptions {
  /** Input chunks available from the start; input ends after them unless `openInput` is set. */
  readonly input?: ReadonlyArray<string | Uint8Array>;
  /** Keep input open after the scripted chunks, for `feed` later. */
  readonly openInput?: boolean;
  /** Output kept, in bytes (oldest dropped first); default 16 MiB. */
  readonly maxOutputBytes?: number;
}

export class MemoryConsole implements Console {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;
  readonly #max: number;
  readonly #input = new InputQueue();
  #connected = true;

  constructor(options: MemoryConsoleOptions = {}) {
    this.#max = options.maxOutputBytes ?? 16 * 1024 * 1024;
    for (const chunk of options.input ?? []) this.feed(chunk);
    if (options.openInput !== true) this.#input.end();
  }

  write(data: string | Uint8Array): void {
    if (!this.#connected) throw new DisconnectedError("console");
    const bytes = typeof data === "string" ? encoder.encode(data) : data.slice();
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    while (this.#size > this.#max && this.#chunks.length > 1)
      this.#size -= this.#chunks.shift()!.length;
  }

  async flush(): Promise<void> {}

  input(): AsyncIterable<Uint8Array> {
    return this.#input.read();
  }

  /** Adds input, as if typed. */
  feed(data: string | Uint8Array): void {
    this.#input.push(typeof data === "string" ? encoder.encode(data) : data);
  }

  endInput(): void {
    this.#input.end();
  }

  /** Everything written, as bytes. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Everything written, decoded as UTF-8. */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  clear(): void {
    this.#chunks.length = 0;
    this.#size = 0;
  }

  /** @internal */
  _disconnect(): void {
    this.#connected = false;
    this.#input.end();
  }
}

/**
 * A driver around one MemoryConsole, reachable as `.console` so a test can
 * read what the unikernel wrote: `const out = memoryConsole(); ...; out.console.text()`.
 */
export const memoryConsole = (options: MemoryConsoleOptions = {}) => {
  const state = { console: new MemoryConsole(options) };
  const d = driver({
    name: "console.memory",
    provides: Console,
    connect: () => state.console,
    disconnect: () => state.console._disconnect(),
  });
  return Object.assign(d, {
    get console(): MemoryConsole {
      return state.console;
    },
  });
};
