// @atoll/http: an HTTP/1.1 server for fetch-shaped handlers and a
// fetch-compatible client, over any Flow of any Stack.

export {
  createFetch,
  type HttpClientOptions,
  type HttpClientStats,
  type HttpFetch,
} from "./client.js";
export {
  HttpClosedError,
  type HttpErrorCode,
  HttpIncompleteMessageError,
  HttpParseError,
  HttpResponseError,
  HttpTimeoutError,
  HttpUnsupportedError,
} from "./errors.js";
export {
  createHttpServer,
  type FetchHandler,
  type HttpListener,
  type HttpServer,
  type HttpServerOptions,
  type HttpServerStats,
  serveHttp,
} from "./server.js";
