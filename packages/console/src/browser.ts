// The browser console: lines go to the devtools console. Input comes from an
// optional async iterable the page provides (a text field, a WebSocket, ...).

import { driver } from "@atoll/core";
import { InputQueue } from "./input.js";
import { Console } from "./signature.js";

export interface BrowserConsoleOptions {
  /** Where input comes from; without it input is empty. */
  readonly input?: AsyncIterable<Uint8Array | string>;
  /** The console object to log to (default: globalThis.console). */
  readonly target?: { log(...data: unknown[]): void };
}

const encoder = new TextEncoder();

class BrowserConsole implements Console {
  #pending = "";
  readonly #decoder = new TextDecoder();
  readonly #target: { log(...data: unknown[]): void };
  readonly #queue = new InputQueue();

  constructor(options: BrowserConsoleOptions) {
    this.#target = options.target ?? globalThis.console;
    if (options.input === undefined) this.#queue.end();
    else void this.#pump(options.input);
  }

  async #pump(source: AsyncIterable<Uint8Array | string>): Promise<void> {
    try {
      for await (const chunk of source) {
        if (this.#queue.ended) return;
        this.#queue.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      }
    } finally {
      this.#queue.end();
    }
  }

  write(data: string | Uint8Array): void {
    this.#pending += typeof data === "string" ? data : this.#decoder.decode(data, { stream: true });
    // devtools shows one entry per call: emit whole lines, keep the partial one.
    const nl = this.#pending.lastIndexOf("\n");
    if (nl < 0) return;
    for (const line of this.#pending.slice(0, nl).split("\n")) this.#target.log(line);
    this.#pending = this.#pending.slice(nl + 1);
  }

  async flush(): Promise<void> {
    if (this.#pending === "") return;
    this.#target.log(this.#pending);
    this.#pending = "";
  }

  input(): AsyncIterable<Uint8Array> {
    return this.#queue.read();
  }

  close(): void {
    this.#queue.end();
  }
}

export const browserConsole = (options: BrowserConsoleOptions = {}) =>
  driver({
    name: "console.browser",
    provides: Console,
    connect: () => new BrowserConsole(options),
    async disconnect(device) {
      await device.flush();
      (device as BrowserConsole).close();
    },
  });
