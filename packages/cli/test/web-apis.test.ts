// The Web APIs an image brings for Fetch-shaped code (image/fetch.ts, and the
// URL and stream packages image/web.ts injects), checked against Node's own
// URL, URLSearchParams, Headers, Request and Response on generated inputs:
// any difference in what they produce, or in whether they throw, fails.

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
// The URL Standard's reference implementation: the judge where Node 20's URL (Ada 2.9) and
// URLSearchParams predate or miss the standard.
import * as reference from "whatwg-url";
import * as realm from "../src/image/realm.js";
import { runImage } from "../src/index.js";
import { exercise } from "./fixture/apps/fetchy-work.js";
import { build, Capture, fixture, tmp } from "./helpers.js";

// The realm's URL classes are typed opaquely (see image/web.ts); here they are used as what they are.
const web = {
  ...realm,
  URL: realm.URL as unknown as typeof URL,
  URLSearchParams: realm.URLSearchParams as unknown as typeof URLSearchParams,
};

const runs = (seed: number, numRuns = 300) => ({ seed, numRuns });

/** What a call gives: its value, or that it threw (and the error's class name). */
function outcome<T>(f: () => T): { ok: T } | { threw: string } {
  try {
    return { ok: f() };
  } catch (error) {
    return { threw: (error as Error).constructor.name };
  }
}

// ----- URL -----

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const segment = fc.oneof(
  pick(
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2e",
    "",
    "a",
    "b.c",
    "%41",
    "%zz",
    "%",
    "~x",
    "ä",
    "日本",
    "😀",
  ),
  fc.string({
    unit: pick(
      "a",
      "Z",
      "0",
      "-",
      "_",
      ".",
      "!",
      "$",
      "'",
      "(",
      "*",
      "+",
      ",",
      ";",
      "=",
      ":",
      "@",
      " ",
      '"',
      "<",
      ">",
      "`",
      "{",
      "}",
      "|",
      "\\",
      "%",
      "é",
      "\u00a0",
      "\t",
    ),
    maxLength: 6,
  }),
);
const path = fc
  .array(segment, { maxLength: 6 })
  .map((s) => (s.length === 0 ? "" : `/${s.join("/")}`));
const queryText = fc.string({
  unit: pick(
    "a",
    "b",
    "=",
    "&",
    "+",
    " ",
    "%20",
    "%2",
    "'",
    '"',
    "<",
    ">",
    "`",
    "#",
    "é",
    "😀",
    "?",
    "/",
    "{",
    "^",
  ),
  maxLength: 12,
});
const host = fc.oneof(
  fc
    .array(fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/), {
      minLength: 1,
      maxLength: 3,
    })
    .map((l) => l.join(".")),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join(".")),
  pick(
    "0x7f.1",
    "127.1",
    "2130706433",
    "0177.0.0.1",
    "EXAMPLE.org",
    "b\u00fccher.de",
    "xn--bcher-kva.de",
    "[::1]",
    "[2001:DB8::0:1]",
    "a..b",
    "1.2.3.4.5",
    "256.1.1.1",
  ),
);
const port = fc.oneof(
  pick("", ":", ":80", ":443", ":0080", ":65535", ":65536", ":8080"),
  fc.nat(65535).map((p) => `:${p}`),
);
const scheme = pick("http", "https", "HTTP", "HtTpS");
const absolute = fc
  .tuple(scheme, host, port, path, fc.option(queryText), fc.option(queryText))
  .map(
    ([s, h, p, pa, q, f]) =>
      `${s}://${h}${p}${pa}${q === null ? "" : `?${q}`}${f === null ? "" : `#${f}`}`,
  );
const relative = fc
  .tuple(pick("", "/", "//", "./", "../", "?", "#"), path, fc.option(queryText))
  .map(([lead, pa, q]) => `${lead}${pa.slice(1)}${q === null ? "" : `?${q}`}`);

const urlParts = (u: URL) => ({
  href: u.href,
  origin: u.origin,
  protocol: u.protocol,
  host: u.host,
  hostname: u.hostname,
  port: u.port,
  pathname: u.pathname,
  search: u.search,
  hash: u.hash,
  params: [...u.searchParams],
});

/**
 * The image's answer must be Node's; where Node's is not the reference
 * implementation's (a bug of Node 20's, or a change to the standard since),
 * it must be the reference's. The differences seen are printed.
 */
const deviations = new Map<string, string>();
function likeNodeOrReference<T>(what: string, mine: T, node: T, ref: T): void {
  try {
    expect(mine).toEqual(node);
  } catch (error) {
    expect(node, "Node and the image differ, and so do Node and the reference").not.toEqual(ref);
    expect(mine, (error as Error).message).toEqual(ref);
    if (deviations.size < 4)
      deviations.set(what.slice(0, 80), JSON.stringify({ node, standard: mine }).slice(0, 240));
  }
}
afterAll(() => {
  if (deviations.size > 0)
    console.info(
      `where Node 20 departs from the URL Standard (the image follows the standard):\n${[...deviations].map(([k, v]) => `  ${k}: ${v}`).join("\n")}`,
    );
});
const nodeAgrees = (input: string) =>
  JSON.stringify(outcome(() => new URL(input).href)) ===
  JSON.stringify(outcome(() => new reference.URL(input).href));
const nodeDecodesAlike = (query: string) =>
  JSON.stringify([...new URLSearchParams(query)]) ===
  JSON.stringify([...new reference.URLSearchParams(query)]);

describe("the image's URL, next to Node's", () => {
  it("parses http(s) URLs alike: hosts, IPv4, ports, dot segments, percent-encoding", () => {
    fc.assert(
      fc.property(absolute, (input) => {
        likeNodeOrReference(
          input,
          outcome(() => urlParts(new web.URL(input) as unknown as URL)),
          outcome(() => urlParts(new URL(input))),
          outcome(() => urlParts(new reference.URL(input) as unknown as URL)),
        );
      }),
      runs(11, 1500),
    );
  });

  it("percent-encodes ^ in paths, as the URL Standard does since 2025 (Node 20's Ada predates it)", () => {
    expect(new web.URL("http://example.org/a^b").pathname).toBe("/a%5Eb");
    expect(new web.URL("http://example.org/?a^b").search).toBe("?a^b");
    expect(new web.URL("", "http://a/?").href).toBe("http://a/?");
    expect([...new web.URLSearchParams("é%20%2")]).toEqual([["é %2", ""]]);
  });

  it("resolves relative references against a base alike", () => {
    fc.assert(
      fc.property(relative, absolute, (input, base) => {
        likeNodeOrReference(
          `${JSON.stringify(input)} against ${base}`,
          outcome(() => new web.URL(input, base).href),
          outcome(() => new URL(input, base).href),
          outcome(() => new reference.URL(input, base).href),
        );
      }),
      runs(12, 1500),
    );
  });

  it("sets components alike", () => {
    fc.assert(
      fc.property(
        absolute,
        pick("pathname", "search", "hash", "port", "hostname", "host", "protocol"),
        fc.oneof(path, queryText, pick("8080", "80", "x", "12ab", "example.COM", "https", "ftp")),
        (input, key, value) => {
          const set = (U: typeof URL) =>
            outcome(() => {
              const u = new U(input);
              (u as unknown as Record<string, string>)[key] = value;
              return urlParts(u);
            });
          likeNodeOrReference(
            `${key} = ${JSON.stringify(value)} on ${input}`,
            set(web.URL as unknown as typeof URL),
            set(URL),
            set(reference.URL as unknown as typeof URL),
          );
        },
      ),
      runs(13, 800),
    );
  });

  it("parses, edits and serializes URLSearchParams alike", () => {
    const op = fc.oneof(
      fc.tuple(pick("append", "set"), queryText, queryText),
      fc.tuple(pick("delete"), queryText),
      fc.tuple(pick("sort")),
    );
    fc.assert(
      fc.property(queryText, fc.array(op, { maxLength: 6 }), (init, ops) => {
        const run = (P: typeof URLSearchParams) => {
          const params = new P(init);
          for (const [name, ...args] of ops) (params as any)[name](...args);
          return {
            entries: [...params],
            text: params.toString(),
            all: [...new Set([...params.keys()])].map((k) => params.getAll(k)),
          };
        };
        likeNodeOrReference(
          JSON.stringify(init),
          run(web.URLSearchParams as unknown as typeof URLSearchParams),
          run(URLSearchParams),
          run(reference.URLSearchParams as unknown as typeof URLSearchParams),
        );
      }),
      runs(14, 800),
    );
  });
});

// ----- Headers -----

const headerName = fc.oneof(
  pick(
    "Content-Type",
    "content-type",
    "CONTENT-TYPE",
    "Set-Cookie",
    "set-cookie",
    "ETag",
    "x-a",
    "X-A",
    "accept",
    "Vary",
  ),
  fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,8}$/),
  pick("", "a b", "a:b", "é", "a\n"),
);
const headerValue = fc.oneof(
  fc.string({ unit: pick("a", "B", " ", "\t", ",", ";", "=", '"', "é", "ÿ"), maxLength: 10 }),
  pick(" padded ", "\tx\t", "a\r\nb", "nul\u0000", "\n", "Ā", "😀", ""),
);
const headerList = fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 });

const headerView = (h: Headers, names: readonly string[]) => ({
  entries: [...h],
  keys: [...h.keys()],
  values: [...h.values()],
  setCookie: h.getSetCookie(),
  got: names.map((n) => outcome(() => [h.get(n), h.has(n)])),
});

describe("the image's Headers, next to Node's", () => {
  it("validates, normalizes, combines and sorts alike (Set-Cookie apart)", () => {
    fc.assert(
      fc.property(headerList, (list) => {
        const names = list.map(([n]) => n);
        const mine = outcome(() => headerView(new web.Headers(list) as unknown as Headers, names));
        const node = outcome(() => headerView(new Headers(list), names));
        expect(mine).toEqual(node);
      }),
      runs(21, 1000),
    );
  });

  it("appends, sets and deletes alike, from a record too", () => {
    const op = fc.oneof(
      fc.tuple(pick("append", "set"), headerName, headerValue),
      fc.tuple(pick("delete"), headerName),
    );
    fc.assert(
      fc.property(
        fc.dictionary(headerName, headerValue, { maxKeys: 4 }),
        fc.array(op, { maxLength: 8 }),
        (record, ops) => {
          const run = (h: Headers) => {
            const log = ops.map(([name, ...args]) => outcome(() => (h as any)[name](...args)));
            return {
              log,
              view: headerView(
                h,
                ops.map(([, n]) => n),
              ),
            };
          };
          const mine = outcome(() => run(new web.Headers(record) as unknown as Headers));
          const node = outcome(() => run(new Headers(record)));
          expect(mine).toEqual(node);
        },
      ),
      runs(22, 1000),
    );
  });
});

// ----- Request and Response -----

type BodyKind =
  | ["none"]
  | ["string", string]
  | ["bytes", Uint8Array]
  | ["stream", Uint8Array[]]
  | ["params", string];
const bodyArb: fc.Arbitrary<BodyKind> = fc.oneof(
  fc.constant(["none"] as BodyKind),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => ["string", s] as BodyKind),
  fc.uint8Array({ maxLength: 40 }).map((b) => ["bytes", b] as BodyKind),
  fc
    .array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 })
    .map((c) => ["stream", c] as BodyKind),
  queryText.filter(nodeDecodesAlike).map((q) => ["params", q] as BodyKind),
);

/** The body for one side: each gets its own copy, and streams of its own kind. */
function bodyFor(kind: BodyKind, side: "mine" | "node"): unknown {
  const Stream = side === "mine" ? web.ReadableStream : ReadableStream;
  const Params = side === "mine" ? web.URLSearchParams : URLSearchParams;
  switch (kind[0]) {
    case "none":
      return undefined;
    case "string":
      return kind[1];
    case "bytes":
      return kind[1].slice();
    case "params":
      return new Params(kind[1]);
    case "stream": {
      const chunks = kind[1].map((c) => c.slice());
      return new (Stream as typeof ReadableStream)({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next);
        },
      });
    }
  }
}

async function settle<T>(f: () => Promise<T>): Promise<{ ok: T } | { threw: string }> {
  try {
    return { ok: await f() };
  } catch (error) {
    return { threw: (error as Error).constructor.name };
  }
}

const bytesOf = async (r: { arrayBuffer(): Promise<ArrayBuffer> }) => [
  ...new Uint8Array(await r.arrayBuffer()),
];

describe("the image's Request, next to Node's", () => {
  const method = fc.oneof(
    pick(
      "GET",
      "get",
      "HEAD",
      "post",
      "POST",
      "put",
      "delete",
      "options",
      "patch",
      "PATCH",
      "CONNECT",
      "trace",
      "Track",
      "FOO",
      "bad method",
      "",
    ),
    fc.stringMatching(/^[A-Za-z]{1,6}$/),
  );

  it("takes method, URL, headers and bodies (strings, bytes, params, streams) alike", async () => {
    await fc.assert(
      fc.asyncProperty(
        absolute.filter(nodeAgrees),
        fc.option(method),
        headerList,
        bodyArb,
        pick("text", "arrayBuffer", "clone"),
        async (url, m, headers, body, read) => {
          const make = (side: "mine" | "node") => {
            const R = (side === "mine" ? web.Request : Request) as typeof Request;
            const init: Record<string, unknown> = { headers };
            if (m !== null) init.method = m;
            if (body[0] !== "none") init.body = bodyFor(body, side);
            if (body[0] === "stream") init.duplex = "half";
            return new R(url, init as RequestInit);
          };
          const view = async (side: "mine" | "node") =>
            settle(async () => {
              const r = make(side);
              const head = {
                method: r.method,
                url: r.url,
                headers: [...r.headers],
                used: r.bodyUsed,
              };
              const content =
                read === "text"
                  ? await r.text()
                  : read === "arrayBuffer"
                    ? await bytesOf(r)
                    : await r
                        .clone()
                        .text()
                        .then(async (t) => [t, await r.text()]);
              return { head, content, usedAfter: r.bodyUsed, again: await settle(() => r.text()) };
            });
          expect(await view("mine")).toEqual(await view("node"));
        },
      ),
      runs(31, 400),
    );
  });

  it("follows its init's signal, and a Request input's fields", async () => {
    const controller = new web.AbortController();
    const first = new web.Request("http://example.org/a", {
      method: "POST",
      body: "one",
      headers: { "x-a": "1" },
      signal: controller.signal as unknown as AbortSignal,
    });
    const second = new web.Request(first, { headers: { "x-b": "2" } });
    expect(second.method).toBe("POST");
    expect([...second.headers]).toEqual([["x-b", "2"]]);
    expect(await second.text()).toBe("one");
    expect(first.bodyUsed).toBe(true);
    expect(() => new web.Request(first)).toThrow(TypeError);
    expect(second.signal.aborted).toBe(false);
    controller.abort("stop");
    expect(first.signal.aborted).toBe(true);
    expect(second.signal.reason).toBe("stop");
    // Node agrees on the rules exercised here.
    expect(() => new Request("http://u:p@example.org/")).toThrow(TypeError);
    expect(() => new web.Request("http://u:p@example.org/")).toThrow(TypeError);
    expect(() => new web.Request("/relative")).toThrow(TypeError);
    expect(
      () => new web.Request("http://a/", { method: "POST", body: new web.ReadableStream() }),
    ).toThrow(/duplex/);
  });
});

describe("the image's Response, next to Node's", () => {
  const status = fc.oneof(
    pick(200, 201, 204, 206, 304, 404, 500, 599, 199, 600, 0, 101, 205),
    fc.integer({ min: 200, max: 599 }),
  );
  const statusText = fc.oneof(
    pick("", "OK", "Not Found", "bad\r\nline", "é", "Ā"),
    fc.string({ maxLength: 5 }),
  );

  it("takes status, statusText, headers and bodies alike; reads, clones and tees alike", async () => {
    await fc.assert(
      fc.asyncProperty(
        bodyArb,
        fc.option(status),
        fc.option(statusText),
        headerList,
        pick("text", "arrayBuffer", "clone", "body"),
        async (body, s, t, headers, read) => {
          const view = async (side: "mine" | "node") =>
            settle(async () => {
              const R = (side === "mine" ? web.Response : Response) as typeof Response;
              const init: ResponseInit = { headers };
              if (s !== null) init.status = s;
              if (t !== null) init.statusText = t;
              const r = new R(bodyFor(body, side) as BodyInit, init);
              const head = {
                status: r.status,
                ok: r.ok,
                statusText: r.statusText,
                type: r.type,
                headers: [...r.headers],
                hasBody: r.body !== null,
              };
              let content: unknown;
              if (read === "text") content = await r.text();
              else if (read === "arrayBuffer") content = await bytesOf(r);
              else if (read === "clone") {
                const copy = r.clone();
                content = [await copy.text(), await r.text(), [...copy.headers], copy.status];
              } else {
                const reader = r.body?.getReader();
                const chunks: number[] = [];
                for (;;) {
                  const next = await reader?.read();
                  if (next === undefined || next.done) break;
                  chunks.push(...next.value);
                }
                content = chunks;
              }
              return { head, content, used: r.bodyUsed, again: await settle(() => r.text()) };
            });
          expect(await view("mine")).toEqual(await view("node"));
        },
      ),
      runs(41, 400),
    );
  });

  it("makes json, redirect and error responses alike", async () => {
    const json = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(json, headerList, async (data, headers) => {
        const view = async (R: typeof Response) =>
          settle(async () => {
            const r = R.json(data, { headers });
            return { status: r.status, headers: [...r.headers], text: await r.text() };
          });
        expect(await view(web.Response as unknown as typeof Response)).toEqual(
          await view(Response),
        );
      }),
      runs(42, 300),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(absolute.filter(nodeAgrees), pick("/x", "")),
        fc.option(status),
        async (url, s) => {
          const view = (R: typeof Response) =>
            outcome(() => {
              const r = s === null ? R.redirect(url) : R.redirect(url, s);
              return {
                status: r.status,
                headers: [...r.headers],
                immutable: outcome(() => r.headers.set("x", "y")),
              };
            });
          expect(view(web.Response as unknown as typeof Response)).toEqual(view(Response));
        },
      ),
      runs(43, 300),
    );
    const view = (r: Response) => ({
      type: r.type,
      status: r.status,
      body: r.body,
      immutable: outcome(() => r.headers.set("x", "y")),
    });
    expect(view(web.Response.error() as unknown as Response)).toEqual(view(Response.error()));
  });

  it("gives a body made of bytes in one chunk and ends it at once (as @atoll/http's probe expects)", async () => {
    const reader = new web.Response("hello").body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(new TextDecoder().decode(first.value)).toBe("hello");
    let settled = false;
    void reader.read().then((r) => {
      settled = r.done;
    });
    for (let i = 0; i < 4 && !settled; i++) await undefined;
    expect(settled).toBe(true);
  });
});

describe("inside a sealed image", () => {
  it("Fetch-shaped code (URL, Request, Response, Headers, streams, atob) runs as it does in Node", async () => {
    const built = await build(fixture("apps/fetchy.ts"), tmp());
    expect(built.webApis).toEqual([]);
    const out = new Capture();
    const result = await runImage(built.path, { stdout: out, stderr: out });
    expect(out.text()).not.toMatch(/Error:|not a constructor/);
    expect(result.status).toBe(0);
    const sealed = JSON.parse(out.text()) as unknown[];
    expect(sealed).toEqual(await exercise());
  });
});
