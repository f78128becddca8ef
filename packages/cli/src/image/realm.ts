// The Web APIs that platform-neutral Atoll code may use beyond ECMAScript
// (TextEncoder, TextDecoder, queueMicrotask, EventTarget, AbortController,
// DOMException), implemented in ECMAScript so a sealed image brings its own:
// the realm a tender provides holds ECMAScript built-ins only. Installed only
// where missing. The image imports this module first, before any other code.

type Listener = ((event: any) => void) | { handleEvent(event: any): void };

class EventShim {
  readonly type: string;
  target: unknown = null;
  defaultPrevented = false;
  constructor(type: string) {
    this.type = String(type);
  }
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

class EventTargetShim {
  #listeners = new Map<string, Array<{ listener: Listener; once: boolean }>>();

  addEventListener(type: string, listener: Listener | null, options?: { once?: boolean } | boolean) {
    if (listener == null) return;
    const list = this.#listeners.get(type) ?? [];
    if (list.some((l) => l.listener === listener)) return;
    list.push({ listener, once: typeof options === "object" && options?.once === true });
    this.#listeners.set(type, list);
  }

  removeEventListener(type: string, listener: Listener | null) {
    const list = this.#listeners.get(type);
    if (list === undefined) return;
    const i = list.findIndex((l) => l.listener === listener);
    if (i >= 0) list.splice(i, 1);
  }

  dispatchEvent(event: EventShim): boolean {
    event.target = this;
    const handler = (this as unknown as Record<string, unknown>)[`on${event.type}`];
    if (typeof handler === "function") handler.call(this, event);
    for (const entry of [...(this.#listeners.get(event.type) ?? [])]) {
      if (entry.once) this.removeEventListener(event.type, entry.listener);
      const l = entry.listener;
      if (typeof l === "function") l.call(this, event);
      else l.handleEvent(event);
    }
    return !event.defaultPrevented;
  }
}

class DOMExceptionShim extends Error {
  constructor(message = "", name = "Error") {
    super(message);
    this.name = name;
  }
}

const abortSignal = Symbol("abort");

class AbortSignalShim extends EventTargetShim {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((event: EventShim) => void) | null = null;

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  [abortSignal](reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason =
      reason === undefined ? new DOMExceptionShim("This operation was aborted", "AbortError") : reason;
    this.dispatchEvent(new EventShim("abort"));
  }

  static abort(reason?: unknown): AbortSignalShim {
    const signal = new AbortSignalShim();
    signal[abortSignal](reason);
    return signal;
  }
}

class AbortControllerShim {
  readonly signal = new AbortSignalShim();
  abort(reason?: unknown): void {
    this.signal[abortSignal](reason);
  }
}

class TextEncoderShim {
  readonly encoding = "utf-8";

  encode(input = ""): Uint8Array {
    const out = new Uint8Array(input.length * 3);
    return out.subarray(0, this.encodeInto(input, out).written);
  }

  encodeInto(input: string, dest: Uint8Array): { read: number; written: number } {
    let read = 0;
    let at = 0;
    const n = input.length;
    while (read < n) {
      let c = input.charCodeAt(read);
      let units = 1;
      if (c >= 0xd800 && c <= 0xdbff && read + 1 < n) {
        const d = input.charCodeAt(read + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          units = 2;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
      const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (at + size > dest.length) break;
      if (size === 1) dest[at++] = c;
      else {
        const shift = (size - 1) * 6;
        dest[at++] = ((0xf00 >> size) & 0xff) | (c >> shift);
        for (let s = shift - 6; s >= 0; s -= 6) dest[at++] = 0x80 | ((c >> s) & 0x3f);
      }
      read += units;
    }
    return { read, written: at };
  }
}

class TextDecoderShim {
  readonly encoding = "utf-8";
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  #pending: number[] = [];
  #started = false;

  constructor(label = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    if (!/^(utf-?8|unicode-1-1-utf-8)$/i.test(String(label).trim()))
      throw new RangeError(`TextDecoder: only utf-8 is available in a sealed image, not ${label}`);
    this.fatal = options.fatal === true;
    this.ignoreBOM = options.ignoreBOM === true;
  }

  decode(input?: ArrayBufferView | ArrayBuffer, options: { stream?: boolean } = {}): string {
    const bytes =
      input === undefined
        ? new Uint8Array(0)
        : ArrayBuffer.isView(input)
          ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
          : new Uint8Array(input);
    const src = this.#pending.length > 0 ? Uint8Array.from([...this.#pending, ...bytes]) : bytes;
    this.#pending = [];
    let out = "";
    const codes: number[] = [];
    const flushCodes = () => {
      out += String.fromCharCode(...codes);
      codes.length = 0;
    };
    const bad = () => {
      if (this.fatal) throw new TypeError("The encoded data was not valid utf-8");
      codes.push(0xfffd);
    };
    let i = 0;
    while (i < src.length) {
      const b = src[i]!;
      let need = 0;
      let c = 0;
      let min = 0;
      if (b < 0x80) {
        codes.push(b);
        i++;
      } else {
        if (b >= 0xc2 && b <= 0xdf) [need, c, min] = [1, b & 0x1f, 0x80];
        else if (b >= 0xe0 && b <= 0xef) [need, c, min] = [2, b & 0x0f, 0x800];
        else if (b >= 0xf0 && b <= 0xf4) [need, c, min] = [3, b & 0x07, 0x10000];
        else {
          bad();
          i++;
          continue;
        }
        let k = 1;
        for (; k <= need && i + k < src.length; k++) {
          const x = src[i + k]!;
          if ((x & 0xc0) !== 0x80) break;
          c = (c << 6) | (x & 0x3f);
        }
        if (k <= need) {
          if (i + k >= src.length && options.stream === true) {
            this.#pending = [...src.subarray(i)];
            break;
          }
          bad();
          i += k;
          continue;
        }
        i += k;
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) bad();
        else if (c >= 0x10000) codes.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + (c & 0x3ff));
        else codes.push(c);
      }
      if (codes.length >= 4096) flushCodes();
    }
    flushCodes();
    if (!this.#started && !this.ignoreBOM && out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    this.#started = options.stream === true && out.length + this.#pending.length > 0;
    if (options.stream !== true) this.#started = false;
    return out;
  }
}

const shims: Record<string, unknown> = {
  TextEncoder: TextEncoderShim,
  TextDecoder: TextDecoderShim,
  Event: EventShim,
  EventTarget: EventTargetShim,
  AbortController: AbortControllerShim,
  AbortSignal: AbortSignalShim,
  DOMException: DOMExceptionShim,
  queueMicrotask: (callback: () => void) => {
    Promise.resolve().then(callback);
  },
};

const g = globalThis as Record<string, unknown>;
for (const name of Object.keys(shims)) {
  if (typeof g[name] !== "function")
    Object.defineProperty(g, name, { value: shims[name], writable: true, configurable: true });
}

/** Imported (and used) by the image's entry so that this module is evaluated first. */
export const realmInstalled = true;
