// A single-reader queue of input chunks, shared by the console drivers.

import { AtollError } from "@atoll/core";

export class ConsoleInputBusyError extends AtollError {
  constructor() {
    super("ATOLL_CONSOLE_INPUT_BUSY", "console input already has a reader");
  }
}

export class InputQueue {
  #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #reading = false;

  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#chunks.push(chunk);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  get ended(): boolean {
    return this.#ended;
  }

  async *read(): AsyncGenerator<Uint8Array> {
    if (this.#reading) throw new ConsoleInputBusyError();
    this.#reading = true;
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
      }
    } finally {
      this.#reading = false;
    }
  }
}

/** Splits console input into lines (without the terminator), decoding UTF-8. */
export async function* lines(input: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of input) {
    pending += decoder.decode(chunk, { stream: true });
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      yield pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}
