// Serves the files of a key-value store over HTTP: GET and HEAD, media types
// by extension, a strong ETag from the store's SHA-256 digest, Last-Modified,
// conditional requests (304, 412) and single byte ranges (206, 416).
// Platform-neutral: it sees only the KvRo signature and WHATWG Request/Response.

import { isAtollError } from "@atoll/core";
import type { KvRo } from "@atoll/kv";
import { contentTypeFor, isHtml } from "./content-type.js";
import { parseRange } from "./range.js";
import {
  entityTag,
  evaluatePreconditions,
  httpDate,
  ifRangeAllows,
  type Representation,
} from "./validators.js";

export interface StaticSiteOptions {
  /** The file served for a path that names a dictionary, ending in `/` (default `index.html`). */
  readonly indexFile?: string;
  /** A page served with status 404 when nothing matches (default `/404.html`, if present). */
  readonly notFoundPage?: string;
  /** Cache-Control on every file (default `no-cache`: revalidate each time, cheap with ETags). */
  readonly cacheControl?: string;
  /** Fields added to every response (a Server field, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Fields added to HTML responses (a Content-Security-Policy, say). */
  readonly htmlHeaders?: Readonly<Record<string, string>>;
}

/** Key segments for a URL path: percent-decoded; undefined when it cannot name a key. */
export function pathSegments(
  pathname: string,
): { segments: string[]; directory: boolean } | undefined {
  const parts = pathname.split("/");
  // pathname always starts with "/": the first part is empty.
  parts.shift();
  const directory = parts.length === 0 || parts[parts.length - 1] === "";
  if (directory) parts.pop();
  const segments: string[] = [];
  for (const part of parts) {
    let segment: string;
    try {
      segment = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (
      segment === "" ||
      segment === "." ||
      segment === ".." ||
      segment.includes("/") ||
      segment.includes("\u0000")
    )
      return undefined;
    segments.push(segment);
  }
  return { segments, directory };
}

const ALLOW = "GET, HEAD";

/** Bytes from a store are a body as they are (the DOM typings want an ArrayBuffer-backed view). */
const asBody = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** A fetch-shaped handler over `assets`. Store failures reject (the caller answers 500). */
export function staticSite(
  assets: KvRo,
  options: StaticSiteOptions = {},
): (request: Request) => Promise<Response> {
  const indexFile = options.indexFile ?? "index.html";
  const notFoundPage = options.notFoundPage ?? "/404.html";
  const cacheControl = options.cacheControl ?? "no-cache";
  const common = options.headers ?? {};
  const htmlOnly = options.htmlHeaders ?? {};

  const notFound = async (head: boolean): Promise<Response> => {
    const headers = new Headers(common);
    headers.set("cache-control", "no-cache");
    let body: Uint8Array | string = "not found\n";
    let type = "text/plain; charset=utf-8";
    if ((await assets.exists(notFoundPage).catch(() => undefined)) === "value") {
      body = await assets.get(notFoundPage);
      type = contentTypeFor(notFoundPage);
      if (isHtml(type)) for (const [k, v] of Object.entries(htmlOnly)) headers.set(k, v);
    }
    headers.set("content-type", type);
    const length = typeof body === "string" ? new TextEncoder().encode(body).length : body.length;
    headers.set("content-length", String(length));
    return new Response(head ? null : typeof body === "string" ? body : asBody(body), {
      status: 404,
      headers,
    });
  };

  return async (request: Request): Promise<Response> => {
    const method = request.method;
    const head = method === "HEAD";
    if (method !== "GET" && !head) {
      return new Response(`${method} is not allowed here\n`, {
        status: 405,
        headers: { ...common, allow: ALLOW, "content-type": "text/plain; charset=utf-8" },
      });
    }
    const url = new URL(request.url);
    const parsed = pathSegments(url.pathname);
    if (parsed === undefined) return notFound(head);
    let { segments } = parsed;
    const kind = await assets.exists(segments.length === 0 ? "/" : segments).catch((error) => {
      if (isAtollError(error, "ATOLL_KV_INVALID_KEY")) return undefined;
      throw error;
    });
    if (kind === undefined) return notFound(head);
    if (kind === "dictionary") {
      if (!parsed.directory) {
        // A directory named without its slash: send the browser to it, so relative links resolve.
        return new Response(null, {
          status: 301,
          headers: { ...common, location: `${url.pathname}/${url.search}` },
        });
      }
      segments = [...segments, indexFile];
      if ((await assets.exists(segments)) !== "value") return notFound(head);
    } else if (parsed.directory) {
      return notFound(head);
    }

    const [digest, size, lastModified] = await Promise.all([
      assets.digest(segments),
      assets.size(segments),
      assets.lastModified(segments),
    ]);
    const representation: Representation = { etag: entityTag(digest), lastModified };
    const type = contentTypeFor(segments[segments.length - 1]!);
    const headers = new Headers(common);
    headers.set("etag", representation.etag);
    if (lastModified > 0) headers.set("last-modified", httpDate(lastModified));
    headers.set("cache-control", cacheControl);
    if (isHtml(type)) for (const [k, v] of Object.entries(htmlOnly)) headers.set(k, v);

    const outcome = evaluatePreconditions(request.headers, representation);
    if (outcome === "not-modified") return new Response(null, { status: 304, headers });
    if (outcome === "precondition-failed") {
      return new Response(null, { status: 412, headers: { ...common, "content-length": "0" } });
    }

    headers.set("content-type", type);
    headers.set("accept-ranges", "bytes");
    headers.set("x-content-type-options", "nosniff");
    // Range applies to GET only (RFC 9110 §14.2); HEAD describes the whole representation.
    const range =
      !head && ifRangeAllows(request.headers, representation)
        ? parseRange(request.headers.get("range"), size)
        : ({ kind: "whole" } as const);
    if (range.kind === "unsatisfiable") {
      return new Response(null, {
        status: 416,
        headers: { ...common, "content-range": `bytes */${size}`, "content-length": "0" },
      });
    }
    if (range.kind === "part") {
      const part = await assets.getPartial(segments, range.start, range.end - range.start + 1);
      // The lengths come from what was read: a file changing under --dev stays self-consistent.
      headers.set("content-range", `bytes ${range.start}-${range.start + part.length - 1}/${size}`);
      headers.set("content-length", String(part.length));
      return new Response(asBody(part), { status: 206, headers });
    }
    if (head) {
      headers.set("content-length", String(size));
      return new Response(null, { status: 200, headers });
    }
    const bytes = await assets.get(segments);
    headers.set("content-length", String(bytes.length));
    return new Response(asBody(bytes), { status: 200, headers });
  };
}
