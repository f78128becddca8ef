// URL and Web streams from npm, for `atoll build` to inject (see image/realm.ts).
// A file of its own so that neither package imports, through the names
// injected into it (atob, queueMicrotask, DOMException), the file that
// exports it: a cycle would let their tables be computed before the shims.

export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableStream,
  ReadableStreamDefaultReader,
  TransformStream,
  WritableStream,
} from "web-streams-polyfill";

import { URLSearchParams as SearchParamsImpl, URL as UrlImpl } from "whatwg-url-minimum";

// Typed opaquely: only `atoll build` consumes these (by injection), and the
// published declarations then name no type of whatwg-url-minimum, whose own
// declarations need a newer DOM library than a consumer may have.
export const URL: abstract new (...args: never[]) => unknown = UrlImpl;
export const URLSearchParams: abstract new (...args: never[]) => unknown = SearchParamsImpl;
