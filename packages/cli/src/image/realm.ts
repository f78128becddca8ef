// The Web APIs that platform-neutral code may use beyond ECMAScript,
// implemented in ECMAScript so a sealed image brings its own: the realm a
// tender provides holds ECMAScript built-ins only. `atoll build` injects them
// (esbuild's `inject` of the three files below, not of this one, which only
// gathers them): each reference to one of these globals in the image
// becomes a reference to the export of the same name here, so an image
// carries only the ones its code uses, and none is put on its global.
//
//   TextEncoder, TextDecoder, EventTarget, AbortController, DOMException,
//   queueMicrotask, atob, btoa         image/shims.ts
//   Headers, Request, Response         image/fetch.ts (the Fetch Standard's classes)
//   URL, URLSearchParams               image/web.ts: whatwg-url-minimum (a port of jsdom's whatwg-url)
//   ReadableStream, WritableStream,
//   TransformStream, ...               image/web.ts: web-streams-polyfill (the WHATWG reference
//                                      implementation, as a ponyfill)

export { Headers, Request, Response } from "./fetch.js";
export {
  AbortController,
  AbortSignal,
  atob,
  btoa,
  DOMException,
  Event,
  EventTarget,
  queueMicrotask,
  TextDecoder,
  TextEncoder,
} from "./shims.js";
export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableStream,
  ReadableStreamDefaultReader,
  TransformStream,
  URL,
  URLSearchParams,
  WritableStream,
} from "./web.js";

/** The names this module provides, for `atoll build` (references to `globalThis.NAME` too). */
export const realmGlobals = [
  "AbortController",
  "AbortSignal",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
  "DOMException",
  "Event",
  "EventTarget",
  "Headers",
  "ReadableStream",
  "ReadableStreamDefaultReader",
  "Request",
  "Response",
  "TextDecoder",
  "TextEncoder",
  "TransformStream",
  "URL",
  "URLSearchParams",
  "WritableStream",
  "atob",
  "btoa",
  "queueMicrotask",
] as const;
