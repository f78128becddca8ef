// @atoll/console/node: the console on the process's stdin and stdout.

import process from "node:process";
import type { Readable, Writable } from "node:stream";
import { driver } from "@atoll/core";
import { InputQueue } from "./input.js";
import { Console } from "./signature.js";

export interface StdioOptions {
  /** Defaults to process.stdout. */
  readonly stdout?: Writable;
  /** Defaults to process.stdin. Read only when the application iterates input. */
  readonly stdin?: Readable;
}

class StdioConsole implements Console {
  readonly #out: Writable;
  readonly #in: Readable;
  #queue: InputQueue | undefined;
  #closed = false;

  constructor(options: StdioOptions) {
    this.#out = options.stdout ?? process.stdout;
    this.#in = options.stdin ?? process.stdin;
  }

  write(data: string | Uint8Array): void {
    if (this.#closed) return;
    this.#out.write(data);
  }

  flush(): Promise<void> {
    // An empty write's callback runs once everything queued before it has been flushed.
    return new Promise((resolve) => {
      if (this.#closed || this.#out.writableEnded) resolve();
      else this.#out.write("", () => resolve());
    });
  }

  input(): AsyncIterable<Uint8Array> {
    if (this.#queue === undefined) {
      const queue = (this.#queue = new InputQueue());
      this.#in.on("data", (chunk: Uint8Array | string) => {
        queue.push(
          typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk),
        );
      });
      this.#in.once("end", () => queue.end());
      this.#in.once("error", () => queue.end());
      this.#in.resume();
    }
    return this.#queue.read();
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#queue !== undefined) {
      // Stop holding the event loop open for input nobody will read.
      this.#in.pause();
      this.#in.removeAllListeners("data");
      this.#queue.end();
    }
  }
}

export const stdio = (options: StdioOptions = {}) =>
  driver({
    name: "console.stdio",
    provides: Console,
    connect: () => new StdioConsole(options),
    disconnect: (device) => (device as StdioConsole).close(),
  });
