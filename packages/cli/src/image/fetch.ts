// Headers, Request and Response (the WHATWG Fetch Standard's classes, not
// fetch() itself: a sealed image has no host network to fetch from) in
// ECMAScript, for image/realm.ts to inject into images that name them. What
// @atoll/http, a static site and a Hono-style router use is here: header
// validation and normalization, case-insensitive and sorted iteration with
// Set-Cookie kept apart (getSetCookie), the Body mixin over strings, bytes,
// URLSearchParams and ReadableStreams (text, json, arrayBuffer, bytes, body,
// bodyUsed, clone), Response.json/redirect/error and Request's method
// normalization, duplex and signal. Blob and FormData bodies are not.

import { ReadableStream } from "web-streams-polyfill";
import { URL, URLSearchParams } from "whatwg-url-minimum";

/**
 * A URL object as the signatures take it (anything whose string form is the
 * URL): the published declarations name no type of whatwg-url-minimum, whose
 * own declarations need a newer DOM library than a consumer may have.
 */
interface UrlLike {
  readonly href: string;
}

import { AbortController, TextDecoder, TextEncoder } from "./shims.js";

// Members shared by the classes of this module, and no one else's.
const setBody = Symbol("setBody");
const hasBody = Symbol("hasBody");
const takeBody = Symbol("takeBody");
const cloneBody = Symbol("cloneBody");
const pairs = Symbol("pairs");

type HeadersInitish =
  | Headers
  | Iterable<Iterable<string>>
  | Readonly<Record<string, string>>
  | undefined
  | null;
type Guard = "none" | "immutable";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// HTTP whitespace at either end of a value (the Fetch Standard's "normalize").
const EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const INVALID_VALUE = /[\0\n\r]|[^\0-\xff]/;

function headerName(name: unknown): string {
  const s = String(name);
  if (!TOKEN.test(s)) throw new TypeError(`Headers: invalid header name "${s}"`);
  return s.toLowerCase();
}

function headerValue(value: unknown, name: string): string {
  const s = String(value).replace(EDGES, "");
  if (INVALID_VALUE.test(s)) throw new TypeError(`Headers: invalid value for header "${name}"`);
  return s;
}

const guards = new WeakMap<object, Guard>();

/** WebIDL's ByteString: a code unit above U+00FF is a TypeError. */
function byteString(value: unknown): string {
  const s = String(value);
  if (/[^\0-\xff]/.test(s)) throw new TypeError(`Headers: "${s}" is not a ByteString`);
  return s;
}

/**
 * A HeadersInit as WebIDL converts it (a sequence of pairs or a record of
 * ByteStrings), before any header is checked: a constructor that takes one
 * converts its whole init first, as Node's and browsers' do.
 */
function headerPairs(init: HeadersInitish): [string, string][] {
  if (init === undefined || init === null) return [];
  if (init instanceof HeadersImpl) return init[pairs]();
  if (typeof init !== "object" && typeof init !== "function")
    throw new TypeError("Headers: the init must be an object");
  const list: [string, string][] = [];
  const iterator = (init as Iterable<Iterable<string>>)[Symbol.iterator];
  if (iterator !== undefined && iterator !== null) {
    if (typeof iterator !== "function") throw new TypeError("Headers: init is not iterable");
    for (const pair of init as Iterable<Iterable<string>>) {
      if (pair === null || (typeof pair !== "object" && typeof pair !== "function"))
        throw new TypeError("Headers: each header must be a [name, value] pair");
      const entry = [...pair];
      if (entry.length !== 2)
        throw new TypeError("Headers: each header must be a [name, value] pair");
      list.push([byteString(entry[0]), byteString(entry[1])]);
    }
    return list;
  }
  for (const key of Reflect.ownKeys(init)) {
    const desc = Reflect.getOwnPropertyDescriptor(init, key);
    if (desc?.enumerable !== true) continue;
    if (typeof key === "symbol") throw new TypeError("Headers: a record key cannot be a symbol");
    list.push([byteString(key), byteString((init as Record<string, string>)[key])]);
  }
  return list;
}

class HeadersImpl {
  // Lowercased names and values, in the order they were added.
  #names: string[] = [];
  #values: string[] = [];
  // The sorted and combined list, until the next change.
  #cache: [string, string][] | undefined = undefined;

  constructor(init?: HeadersInitish) {
    for (const [name, value] of headerPairs(init)) this.append(name, value);
  }

  /** The list, in order, for copying. */
  [pairs](): [string, string][] {
    return this.#names.map((n, i) => [n, this.#values[i]!]);
  }

  #mutable(): void {
    if (guards.get(this) === "immutable")
      throw new TypeError("Headers: these headers are immutable");
    this.#cache = undefined;
  }

  append(name: string, value: string): void {
    const n = headerName(name);
    const v = headerValue(value, n);
    this.#mutable();
    this.#names.push(n);
    this.#values.push(v);
  }

  set(name: string, value: string): void {
    const n = headerName(name);
    const v = headerValue(value, n);
    this.#mutable();
    const at = this.#names.indexOf(n);
    if (at < 0) {
      this.#names.push(n);
      this.#values.push(v);
      return;
    }
    this.#values[at] = v;
    for (let i = this.#names.length - 1; i > at; i--)
      if (this.#names[i] === n) {
        this.#names.splice(i, 1);
        this.#values.splice(i, 1);
      }
  }

  delete(name: string): void {
    const n = headerName(name);
    this.#mutable();
    for (let i = this.#names.length - 1; i >= 0; i--)
      if (this.#names[i] === n) {
        this.#names.splice(i, 1);
        this.#values.splice(i, 1);
      }
  }

  get(name: string): string | null {
    const n = headerName(name);
    let out: string | null = null;
    for (let i = 0; i < this.#names.length; i++)
      if (this.#names[i] === n)
        out = out === null ? this.#values[i]! : `${out}, ${this.#values[i]}`;
    return out;
  }

  has(name: string): boolean {
    return this.#names.includes(headerName(name));
  }

  getSetCookie(): string[] {
    return this.#values.filter((_, i) => this.#names[i] === "set-cookie");
  }

  /** The Fetch Standard's "sort and combine": names sorted, values joined, each Set-Cookie apart. */
  #sorted(): [string, string][] {
    if (this.#cache !== undefined) return this.#cache;
    const byName = new Map<string, string[]>();
    for (let i = 0; i < this.#names.length; i++) {
      const name = this.#names[i]!;
      const values = byName.get(name);
      if (values === undefined) byName.set(name, [this.#values[i]!]);
      else values.push(this.#values[i]!);
    }
    const out: [string, string][] = [];
    for (const name of [...byName.keys()].sort()) {
      const values = byName.get(name)!;
      if (name === "set-cookie") for (const v of values) out.push([name, v]);
      else out.push([name, values.join(", ")]);
    }
    this.#cache = out;
    return out;
  }

  *entries(): IterableIterator<[string, string]> {
    // Live, as the standard's iterator: each step reads the current list (recomputed after a change).
    for (let i = 0; ; i++) {
      const pair = this.#sorted()[i];
      if (pair === undefined) return;
      yield [pair[0], pair[1]];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(
    callback: (value: string, name: string, headers: HeadersImpl) => void,
    thisArg?: unknown,
  ): void {
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: not a function");
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return "Headers";
  }
}

const immutable = <T extends HeadersImpl>(headers: T): T => {
  guards.set(headers, "immutable");
  return headers;
};

// ----- bodies -----

const disturbed = (stream: ReadableStream | null) =>
  stream !== null && (stream as unknown as { _disturbed?: boolean })._disturbed === true;

interface Extracted {
  readonly bytes: Uint8Array | null;
  readonly stream: ReadableStream<Uint8Array> | null;
  readonly type: string | null;
}

const isStream = (body: unknown): body is ReadableStream<Uint8Array> =>
  body instanceof ReadableStream ||
  (typeof body === "object" &&
    body !== null &&
    typeof (body as { getReader?: unknown }).getReader === "function" &&
    typeof (body as { tee?: unknown }).tee === "function");

/** The Fetch Standard's "extract a body" for the kinds an image can hold. */
function extract(body: unknown): Extracted {
  if (typeof body === "string")
    return {
      bytes: new TextEncoder().encode(body),
      stream: null,
      type: "text/plain;charset=UTF-8",
    };
  if (body instanceof ArrayBuffer)
    return { bytes: new Uint8Array(body.slice(0)), stream: null, type: null };
  if (ArrayBuffer.isView(body)) {
    const view = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { bytes: view.slice(), stream: null, type: null };
  }
  if (body instanceof URLSearchParams)
    return {
      bytes: new TextEncoder().encode(body.toString()),
      stream: null,
      type: "application/x-www-form-urlencoded;charset=UTF-8",
    };
  if (isStream(body)) {
    if (body.locked || disturbed(body))
      throw new TypeError("the body stream is locked or has been read");
    return { bytes: null, stream: body, type: null };
  }
  if (typeof body === "object" && body !== null) {
    const tag = Object.prototype.toString.call(body);
    if (tag === "[object Blob]" || tag === "[object File]" || tag === "[object FormData]")
      throw new TypeError(`${tag.slice(8, -1)} bodies are not available in a sealed image`);
  }
  return extract(String(body));
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The Body mixin, shared by Request and Response. */
class BodyImpl {
  #bytes: Uint8Array | null = null;
  #stream: ReadableStream<Uint8Array> | null = null;
  #used = false;

  /** */
  [setBody](extracted: Extracted | null): void {
    this.#bytes = extracted?.bytes ?? null;
    this.#stream = extracted?.stream ?? null;
    this.#used = false;
  }

  /** Whether there is a body at all (null for none). */
  [hasBody](): boolean {
    return this.#bytes !== null || this.#stream !== null;
  }

  /** Takes the body away (into a new Request), leaving this one used. */
  [takeBody](): Extracted | null {
    if (!this[hasBody]()) return null;
    const taken = { bytes: this.#bytes, stream: this.#stream, type: null };
    this.#used = true;
    return taken;
  }

  /** Two bodies with the same content: this keeps one, the clone gets the other. */
  [cloneBody](): Extracted | null {
    if (this.bodyUsed || this.#stream?.locked === true)
      throw new TypeError("the body has been read or is locked, and cannot be cloned");
    if (this.#stream !== null) {
      const [mine, theirs] = this.#stream.tee();
      this.#stream = mine;
      return { bytes: null, stream: theirs, type: null };
    }
    if (this.#bytes !== null) return { bytes: this.#bytes.slice(), stream: null, type: null };
    return null;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream === null && this.#bytes !== null) {
      const bytes = this.#bytes;
      // Pulled, not started: reading it (or cancelling it) is what disturbs it.
      this.#stream = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (bytes.length > 0) controller.enqueue(bytes);
            controller.close();
          },
        },
        { highWaterMark: 0 },
      );
    }
    return this.#stream;
  }

  get bodyUsed(): boolean {
    return this.#used || disturbed(this.#stream);
  }

  async #consume(): Promise<Uint8Array> {
    if (this.bodyUsed) throw new TypeError("Body is unusable: it has already been read");
    if (this.#stream?.locked === true) throw new TypeError("Body is unusable: it is locked");
    if (this.#stream === null) {
      // A null body is never used: it reads as empty every time.
      if (this.#bytes === null) return new Uint8Array(0);
      this.#used = true;
      return this.#bytes.slice();
    }
    const reader = this.#stream.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) {
        const error = new TypeError("a body stream produced a chunk that is not a Uint8Array");
        await reader.cancel(error).catch(() => {});
        throw error;
      }
      chunks.push(value);
      total += value.length;
    }
    return concat(chunks, total);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#consume();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : (bytes.slice().buffer as ArrayBuffer);
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.#consume());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async blob(): Promise<never> {
    throw new TypeError("Blob is not available in a sealed image");
  }

  async formData(): Promise<never> {
    throw new TypeError("FormData is not available in a sealed image");
  }
}

/** Sets Content-Type from the body's kind unless the caller gave one. */
const typeFrom = (headers: HeadersImpl, extracted: Extracted | null) => {
  if (extracted?.type != null && !headers.has("content-type"))
    headers.append("content-type", extracted.type);
};

// ----- Request -----

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const REDIRECTS = new Set(["follow", "error", "manual"]);

interface RequestInitish {
  method?: string;
  headers?: HeadersInitish;
  body?: unknown;
  signal?: AbortSignal | null;
  redirect?: string;
  duplex?: string;
  [key: string]: unknown;
}

class RequestImpl extends BodyImpl {
  #method: string;
  #url: string;
  #headers: HeadersImpl;
  #signal: AbortSignal;
  #redirect: string;

  constructor(input: string | UrlLike | RequestImpl, init: RequestInitish = {}) {
    super();
    if (init === null || (typeof init !== "object" && typeof init !== "function"))
      init = {} as RequestInitish;
    const from = input instanceof RequestImpl ? input : undefined;
    if (from === undefined) {
      let parsed: URL;
      try {
        parsed = new URL(String(input));
      } catch {
        throw new TypeError(`Request: cannot parse the URL ${String(input)}`);
      }
      if (parsed.username !== "" || parsed.password !== "")
        throw new TypeError(`Request: the URL has credentials: ${String(input)}`);
      this.#url = parsed.href;
    } else {
      this.#url = from.#url;
    }
    let method = from === undefined ? "GET" : from.#method;
    if (init.method !== undefined) {
      method = String(init.method);
      if (!TOKEN.test(method)) throw new TypeError(`Request: "${method}" is not a valid method`);
      const upper = method.toUpperCase();
      if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`Request: ${method} is forbidden`);
      if (NORMALIZED_METHODS.has(upper)) method = upper;
    }
    this.#method = method;
    const redirect =
      init.redirect !== undefined
        ? String(init.redirect)
        : from === undefined
          ? "follow"
          : from.#redirect;
    if (!REDIRECTS.has(redirect))
      throw new TypeError(`Request: redirect "${redirect}" is not valid`);
    this.#redirect = redirect;

    const controller = new AbortController();
    const follow =
      init.signal !== undefined ? init.signal : from === undefined ? null : from.#signal;
    if (follow != null) {
      if (follow.aborted) controller.abort(follow.reason);
      else follow.addEventListener("abort", () => controller.abort(follow.reason), { once: true });
    }
    this.#signal = controller.signal as unknown as AbortSignal;

    this.#headers = new HeadersImpl(
      init.headers !== undefined ? init.headers : from === undefined ? undefined : from.#headers,
    );

    const initBody = init.body === undefined || init.body === null ? null : extract(init.body);
    // The input's body, when the init gives none (the Fetch Standard's inputOrInitBody).
    const inherits = initBody === null && from !== undefined && from[hasBody]();
    if (inherits && from!.bodyUsed)
      throw new TypeError("Request: the input's body has already been read");
    if ((initBody !== null || inherits) && (method === "GET" || method === "HEAD"))
      throw new TypeError("Request with GET/HEAD method cannot have body");
    if (initBody?.stream != null && init.duplex !== "half")
      throw new TypeError("Request: duplex: 'half' is required when the body is a stream");
    typeFrom(this.#headers, initBody);
    this[setBody](initBody ?? (inherits ? from![takeBody]() : null));
  }

  get method(): string {
    return this.#method;
  }
  get url(): string {
    return this.#url;
  }
  get headers(): HeadersImpl {
    return this.#headers;
  }
  get signal(): AbortSignal {
    return this.#signal;
  }
  get redirect(): string {
    return this.#redirect;
  }
  get duplex(): "half" {
    return "half";
  }
  get cache(): string {
    return "default";
  }
  get credentials(): string {
    return "same-origin";
  }
  get mode(): string {
    return "cors";
  }
  get destination(): string {
    return "";
  }
  get integrity(): string {
    return "";
  }
  get keepalive(): boolean {
    return false;
  }
  get referrer(): string {
    return "about:client";
  }
  get referrerPolicy(): string {
    return "";
  }

  clone(): RequestImpl {
    const body = this[cloneBody]();
    const copy = new RequestImpl(this.#url, {
      method: this.#method,
      headers: this.#headers,
      signal: this.#signal,
      redirect: this.#redirect,
    });
    copy[setBody](body);
    return copy;
  }

  get [Symbol.toStringTag](): string {
    return "Request";
  }
}

// ----- Response -----

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

interface ResponseInitish {
  status?: number;
  statusText?: string;
  headers?: HeadersInitish;
}

const responseType = new WeakMap<object, "error">();

class ResponseImpl extends BodyImpl {
  #status: number;
  #statusText: string;
  #headers: HeadersImpl;

  constructor(body: unknown = null, init: ResponseInitish = {}) {
    super();
    if (init === null || (typeof init !== "object" && typeof init !== "function"))
      init = {} as ResponseInitish;
    // The init is converted whole (headers, then statusText as a ByteString) before it is checked.
    const headers = headerPairs(init.headers);
    const statusText = init.statusText === undefined ? "" : byteString(init.statusText);
    const status = init.status === undefined ? 200 : Math.trunc(Number(init.status)) || 0;
    if (status < 200 || status > 599)
      throw new RangeError(`Response: status ${init.status} is not in the range 200 to 599`);
    if (!REASON_PHRASE.test(statusText))
      throw new TypeError("Response: the statusText is not a valid reason phrase");
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = new HeadersImpl(headers);
    if (body !== null && body !== undefined) {
      if (NULL_BODY_STATUSES.has(status))
        throw new TypeError(`Response: a ${status} response cannot have a body`);
      const extracted = extract(body);
      typeFrom(this.#headers, extracted);
      this[setBody](extracted);
    }
  }

  static error(): ResponseImpl {
    const response = new ResponseImpl(null, { status: 200 });
    response.#status = 0;
    responseType.set(response, "error");
    immutable(response.#headers);
    return response;
  }

  static redirect(url: string | UrlLike, status = 302): ResponseImpl {
    let parsed: URL;
    try {
      parsed = new URL(String(url));
    } catch {
      throw new TypeError(`Response.redirect: cannot parse the URL ${String(url)}`);
    }
    if (!REDIRECT_STATUSES.has(status))
      throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
    const response = new ResponseImpl(null, { status, headers: { location: parsed.href } });
    immutable(response.#headers);
    return response;
  }

  static json(data: unknown, init: ResponseInitish = {}): ResponseImpl {
    const text = JSON.stringify(data);
    if (text === undefined)
      throw new TypeError("Response.json: the value is not JSON serializable");
    const response = new ResponseImpl(text, { ...init, headers: init?.headers ?? undefined });
    const headers = response.#headers;
    // The body's own type (text/plain) gives way to JSON's, unless the caller chose one.
    if (!new HeadersImpl(init?.headers).has("content-type"))
      headers.set("content-type", "application/json");
    return response;
  }

  get type(): string {
    return responseType.get(this) ?? "default";
  }
  get url(): string {
    return "";
  }
  get redirected(): boolean {
    return false;
  }
  get status(): number {
    return this.#status;
  }
  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }
  get statusText(): string {
    return this.#statusText;
  }
  get headers(): HeadersImpl {
    return this.#headers;
  }

  clone(): ResponseImpl {
    const body = this[cloneBody]();
    const copy = new ResponseImpl(null, {
      status: this.#status === 0 ? 200 : this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
    });
    copy.#status = this.#status;
    if (responseType.has(this)) responseType.set(copy, "error");
    if (guards.has(this.#headers)) immutable(copy.#headers);
    copy[setBody](body);
    return copy;
  }

  get [Symbol.toStringTag](): string {
    return "Response";
  }
}

export { HeadersImpl as Headers, RequestImpl as Request, ResponseImpl as Response };
