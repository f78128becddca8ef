// TextEncoder, TextDecoder, EventTarget, AbortController, DOMException and
// queueMicrotask in ECMAScript, for image/realm.ts to inject into images.

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

  addEventListener(
    type: string,
    listener: Listener | null,
    options?: { once?: boolean } | boolean,
  ) {
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
      reason === undefined
        ? new DOMExceptionShim("This operation was aborted", "AbortError")
        : reason;
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

/** UTF-8 decoding as the WHATWG Encoding Standard specifies it, streaming included. */
class TextDecoderShim {
  readonly encoding = "utf-8";
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  #need = 0;
  #seen = 0;
  #code = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #bomChecked = false;

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
    const codes: number[] = [];
    let out = "";
    const emit = (c: number) => {
      if (c > 0xffff) codes.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + (c & 0x3ff));
      else codes.push(c);
      if (codes.length > 4096) {
        out += String.fromCharCode(...codes);
        codes.length = 0;
      }
    };
    const bad = () => {
      if (this.fatal) {
        this.#need = 0;
        throw new TypeError("The encoded data was not valid utf-8");
      }
      emit(0xfffd);
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.#need === 0) {
        if (b <= 0x7f) emit(b);
        else if (b >= 0xc2 && b <= 0xdf) [this.#need, this.#code] = [1, b & 0x1f];
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.#lower = 0xa0;
          if (b === 0xed) this.#upper = 0x9f;
          [this.#need, this.#code] = [2, b & 0x0f];
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.#lower = 0x90;
          if (b === 0xf4) this.#upper = 0x8f;
          [this.#need, this.#code] = [3, b & 0x07];
        } else bad();
        continue;
      }
      if (b < this.#lower || b > this.#upper) {
        this.#need = this.#seen = this.#code = 0;
        this.#lower = 0x80;
        this.#upper = 0xbf;
        bad();
        i--; // the byte starts afresh
        continue;
      }
      this.#lower = 0x80;
      this.#upper = 0xbf;
      this.#code = (this.#code << 6) | (b & 0x3f);
      if (++this.#seen === this.#need) {
        emit(this.#code);
        this.#need = this.#seen = this.#code = 0;
      }
    }
    if (options.stream !== true && this.#need !== 0) {
      this.#need = this.#seen = this.#code = 0;
      this.#lower = 0x80;
      this.#upper = 0xbf;
      bad();
    }
    out += String.fromCharCode(...codes);
    if (!this.#bomChecked && out.length > 0) {
      this.#bomChecked = true;
      if (!this.ignoreBOM && out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    }
    if (options.stream !== true) this.#bomChecked = false;
    return out;
  }
}

export {
  AbortControllerShim as AbortController,
  AbortSignalShim as AbortSignal,
  DOMExceptionShim as DOMException,
  EventShim as Event,
  EventTargetShim as EventTarget,
  TextDecoderShim as TextDecoder,
  TextEncoderShim as TextEncoder,
};

/** Runs `callback` after the current task, as a microtask. */
export function queueMicrotask(callback: () => void): void {
  Promise.resolve().then(callback);
}

// atob and btoa keep no module state: whatwg-url-minimum calls atob while its own module is
// evaluated, which in a bundle may come before this module's (function declarations are
// hoisted; a const would still be undefined).
function base64Alphabet(): string {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

/** HTML's forgiving-base64 decode, to a binary string (one character per byte). */
export function atob(data: unknown): string {
  const BASE64 = base64Alphabet();
  let s = String(data).replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) s = s.replace(/==?$/, "");
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s))
    throw new DOMExceptionShim(
      "The string to be decoded is not correctly encoded.",
      "InvalidCharacterError",
    );
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    buffer = (buffer << 6) | BASE64.indexOf(s[i]!);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buffer >> bits) & 0xff);
    }
  }
  return out;
}

/** Base64 of a binary string; a character above U+00FF is an InvalidCharacterError. */
export function btoa(data: unknown): string {
  const BASE64 = base64Alphabet();
  const s = String(data);
  let out = "";
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i);
    const b = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    const c = i + 2 < s.length ? s.charCodeAt(i + 2) : 0;
    if (a > 0xff || b > 0xff || c > 0xff)
      throw new DOMExceptionShim(
        "The string to be encoded contains characters outside of the Latin1 range.",
        "InvalidCharacterError",
      );
    const n = (a << 16) | (b << 8) | c;
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]!;
    out += i + 1 < s.length ? BASE64[(n >> 6) & 63]! : "=";
    out += i + 2 < s.length ? BASE64[n & 63]! : "=";
  }
  return out;
}
