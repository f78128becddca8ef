// __NAME__: a driver providing Console (@atoll/console). It starts as a
// console that hands every byte written to a sink and reads input fed to it,
// to be replaced by your terminal, log service or UART. Its tests run the
// Console conformance suite, the same one every in-tree driver passes.

import { Console } from "@atoll/console";
import { AtollError, driver } from "@atoll/core";

/** A console that hands every byte written to `sink`, and reads input fed with `feed`. */
export class __Name__Console implements Console {
  readonly #sink: (bytes: Uint8Array) => void;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #reading = false;

  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }

  write(data: string | Uint8Array): void {
    this.#sink(typeof data === "string" ? new TextEncoder().encode(data) : data.slice());
  }

  async flush(): Promise<void> {}

  async *input(): AsyncGenerator<Uint8Array> {
    if (this.#reading)
      throw new AtollError("ATOLL_CONSOLE_INPUT_BUSY", "console input already has a reader");
    this.#reading = true;
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) yield chunk;
        else if (this.#ended) return;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.#reading = false;
    }
  }

  feed(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#wake?.();
  }

  endInput(): void {
    this.#ended = true;
    this.#wake?.();
  }
}

export interface __Name__Options {
  /** Where written bytes go (default: nowhere). */
  readonly sink?: (bytes: Uint8Array) => void;
}

export const __camel__ = (options: __Name__Options = {}) =>
  driver({
    name: "console.__NAME__",
    provides: Console,
    connect: () => new __Name__Console(options.sink ?? (() => {})),
  });
