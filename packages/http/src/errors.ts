// HTTP errors, each with a stable code. A protocol error carries the status
// the server answers with, so one catch turns bad input into the right reply.

import { AtollError } from "@atoll/core";

export type HttpErrorCode =
  | "ATOLL_HTTP_BAD_REQUEST"
  | "ATOLL_HTTP_URI_TOO_LONG"
  | "ATOLL_HTTP_HEADERS_TOO_LARGE"
  | "ATOLL_HTTP_BODY_TOO_LARGE"
  | "ATOLL_HTTP_NOT_IMPLEMENTED"
  | "ATOLL_HTTP_VERSION_NOT_SUPPORTED"
  | "ATOLL_HTTP_EXPECTATION_FAILED"
  | "ATOLL_HTTP_BAD_RESPONSE";

/**
 * The peer sent bytes that are not valid HTTP/1.1 (or exceed a limit).
 * `status` is the response a server sends before closing the connection.
 */
export class HttpParseError extends AtollError {
  readonly status: number;
  constructor(code: HttpErrorCode, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

export const badRequest = (message: string) =>
  new HttpParseError("ATOLL_HTTP_BAD_REQUEST", 400, message);

export const badResponse = (message: string) =>
  new HttpParseError("ATOLL_HTTP_BAD_RESPONSE", 502, message);

/** A header, body or idle deadline passed. */
export class HttpTimeoutError extends AtollError {
  /** 408 for the server's request deadlines. */
  readonly status = 408;
  constructor(what: string) {
    super("ATOLL_HTTP_TIMEOUT", `${what} timed out`);
  }
}

/** The peer closed the connection in the middle of a message. */
export class HttpIncompleteMessageError extends AtollError {
  readonly status = 400;
  constructor(what: string) {
    super("ATOLL_HTTP_INCOMPLETE", `connection closed before the end of the ${what}`);
  }
}

/** The client cannot send this request (scheme, host, method or body it does not support). */
export class HttpUnsupportedError extends AtollError {
  constructor(message: string) {
    super("ATOLL_HTTP_UNSUPPORTED", message);
  }
}

/** A handler or an application broke a rule of the message it was producing. */
export class HttpResponseError extends AtollError {
  constructor(message: string) {
    super("ATOLL_HTTP_RESPONSE_INVALID", message);
  }
}

/** The client or server is closed. */
export class HttpClosedError extends AtollError {
  constructor(what: string) {
    super("ATOLL_HTTP_CLOSED", `${what} is closed`);
  }
}
