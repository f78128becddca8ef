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
export { URL, URLSearchParams } from "whatwg-url-minimum";
