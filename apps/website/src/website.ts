// The website's request handler: the unikernel's own pages about itself
// (/status, /device-graph.svg) in front of the static files of a KvRo.
// Platform-neutral, so the same handler runs in the unikernel and, in the
// benchmark, on node:http.

import type { DeviceGraph } from "@atoll/core";
import type { HttpServerStats } from "@atoll/http";
import type { KvRo } from "@atoll/kv";
import type { Stack } from "@atoll/tcpip";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";
import { renderDeviceGraphSvg } from "./graph-svg.js";
import { staticSite } from "./static-site.js";
import { boundDriver, websiteStatus } from "./status.js";
import { entityTag, evaluatePreconditions } from "./validators.js";

/**
 * Pages may load only what this unikernel serves: no CDN, no fonts or
 * scripts from elsewhere, no inline script. The page renders offline.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface WebsiteOptions {
  readonly assets: KvRo;
  readonly stack: Stack;
  readonly graph: DeviceGraph;
  /** Uptime in ns (from the MonotonicClock). */
  readonly uptimeNs: () => number;
  /** The HTTP server's counters, once it exists. */
  readonly httpStats?: () => HttpServerStats | undefined;
  /** Called with errors from the store (answered 500). */
  readonly onError?: (error: unknown, request: Request) => void;
}

export interface Website {
  readonly fetch: (request: Request) => Promise<Response>;
  /** The device graph picture served at /device-graph.svg. */
  readonly graphSvg: string;
  /** The drivers bound to the application's `stack` and `assets`, from the graph. */
  readonly stackDriver: string | null;
  readonly assetsDriver: string | null;
}

export function createWebsite(options: WebsiteOptions): Website {
  const { graph, stack } = options;
  const stackDriver = boundDriver(graph, "app", "stack");
  const assetsDriver = boundDriver(graph, "app", "assets");
  const common = { server: `atoll-${graph.app} (${stackDriver ?? "stack"})` };
  const files = staticSite(options.assets, {
    headers: common,
    htmlHeaders: {
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "referrer-policy": "no-referrer",
    },
  });
  const graphSvg = renderDeviceGraphSvg(graph);
  const graphBytes = new TextEncoder().encode(graphSvg);
  const graphTag = entityTag(bytesToHex(sha256(graphBytes)));
  const httpStats = options.httpStats ?? (() => undefined);

  const status = (request: Request): Response => {
    const body = JSON.stringify(
      websiteStatus({ graph, stack, uptimeNs: options.uptimeNs, http: httpStats }),
    );
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        ...common,
        "content-type": "application/json",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...(request.method === "HEAD"
          ? { "content-length": String(new TextEncoder().encode(body).length) }
          : {}),
      },
    });
  };

  const picture = (request: Request): Response => {
    const headers = {
      ...common,
      etag: graphTag,
      "cache-control": "no-cache",
      "content-type": "image/svg+xml",
      "x-content-type-options": "nosniff",
    };
    const outcome = evaluatePreconditions(request.headers, { etag: graphTag, lastModified: 0 });
    if (outcome === "not-modified") return new Response(null, { status: 304, headers });
    if (outcome === "precondition-failed")
      return new Response(null, { status: 412, headers: { ...common, "content-length": "0" } });
    return new Response(request.method === "HEAD" ? null : graphBytes, {
      headers: { ...headers, "content-length": String(graphBytes.length) },
    });
  };

  const fetch = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    const readOnly = request.method === "GET" || request.method === "HEAD";
    try {
      if (readOnly && pathname === "/status") return status(request);
      if (readOnly && pathname === "/device-graph.svg") return picture(request);
      return await files(request);
    } catch (error) {
      options.onError?.(error, request);
      return new Response("the store failed to answer\n", {
        status: 500,
        headers: { ...common, "content-type": "text/plain; charset=utf-8" },
      });
    }
  };
  return { fetch, graphSvg, stackDriver, assetsDriver };
}
