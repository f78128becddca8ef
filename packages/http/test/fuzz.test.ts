// Property tests of the parser and the server: valid requests parse the same
// however they are split, and random or mutated bytes never escape as an
// exception, hang the server, or produce anything but well-formed answers.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpParseError } from "../src/errors.js";
import type { FetchHandler } from "../src/index.js";
import { ChunkedDecoder } from "../src/wire/chunked.js";
import { HeadScanner, parseRequestHead } from "../src/wire/head.js";
import { rawExchange } from "./support/raw.js";

const limits = { maxHeaderBytes: 16 * 1024, maxHeaderCount: 100, maxStartLineBytes: 8 * 1024 };

interface ModelRequest {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: string;
  framing: "none" | "length" | "chunked";
  chunks: number[];
  extensions: boolean;
  trailer: boolean;
}

const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const token = fc
  .array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 12 })
  .map((a) => a.join(""));
const reserved = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
]);
const fieldName = token.filter(
  (t) => !reserved.has(t.toLowerCase()) && !t.toLowerCase().startsWith("x-atoll"),
);
// Visible ASCII and inner spaces; leading/trailing whitespace is not part of a value.
const fieldValue = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 30 })
  .map((codes) => String.fromCharCode(...codes).trim());
const pathSegment = fc
  .array(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-._~%20"), { maxLength: 8 })
  .map((a) => a.join("").replace(/%(?!20)/g, ""));
const bodyText = fc.string({ maxLength: 200, unit: fc.constantFrom(..."abc xyz\r\n0123456789;:") });

const modelRequest: fc.Arbitrary<ModelRequest> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
    path: fc.array(pathSegment, { maxLength: 4 }).map((s) => `/${s.join("/")}`),
    query: fc.option(
      fc.array(fc.constantFrom(..."a=1&b=2xyz"), { maxLength: 10 }).map((a) => a.join("")),
    ),
    headers: fc.uniqueArray(fc.tuple(fieldName, fieldValue), {
      maxLength: 6,
      selector: ([n]) => n.toLowerCase(),
    }),
    body: bodyText,
    framing: fc.constantFrom("none", "length", "chunked"),
    chunks: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
    extensions: fc.boolean(),
    trailer: fc.boolean(),
  })
  .map((r) => ({
    ...r,
    path: r.query === null ? r.path : `${r.path}?${r.query}`,
    // GET carries no body; a body needs framing.
    body: r.method === "GET" || r.framing === "none" ? "" : r.body,
    framing: r.method === "GET" ? "none" : r.framing,
  }));

function serialize(r: ModelRequest): string {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: example.test\r\n`;
  for (const [n, v] of r.headers) head += `${n}:${v === "" ? "" : " "}${v}\r\n`;
  if (r.framing === "length") return `${head}Content-Length: ${r.body.length}\r\n\r\n${r.body}`;
  if (r.framing === "none") return `${head}\r\n`;
  head += "Transfer-Encoding: chunked\r\n\r\n";
  let rest = r.body;
  let i = 0;
  while (rest.length > 0) {
    const n = Math.min(rest.length, r.chunks[i++ % Math.max(1, r.chunks.length)] ?? 16);
    head += `${n.toString(16)}${r.extensions ? `;ext${i}="v"` : ""}\r\n${rest.slice(0, n)}\r\n`;
    rest = rest.slice(n);
  }
  return `${head}0\r\n${r.trailer ? "X-Trailer: done\r\n" : ""}\r\n`;
}

/** Splits `text` at the given fractions into pieces of at least one byte. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))]
    .filter((p) => p > 0 && p < text.length)
    .sort((a, b) => a - b);
  const pieces: string[] = [];
  let last = 0;
  for (const p of points) {
    pieces.push(text.slice(last, p));
    last = p;
  }
  pieces.push(text.slice(last));
  return pieces;
}

interface Seen {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
}

function recorder(): { handler: FetchHandler; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    handler: async (request) => {
      const entry: Seen = {
        method: request.method,
        url: request.url,
        headers: [...request.headers].filter(([n]) => !reserved.has(n)),
        body: await request.text(),
      };
      seen.push(entry);
      return new Response(`${seen.length}`);
    },
  };
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

describe("fuzz: valid requests", () => {
  it("parse to the model, identically however the bytes are split", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(modelRequest, { minLength: 1, maxLength: 4 }),
        cuts,
        async (requests, at) => {
          const wire = requests.map(serialize).join("");
          const whole = recorder();
          const wholeOut = await rawExchange(whole.handler, wire);
          const pieces = recorder();
          const piecesOut = await rawExchange(pieces.handler, split(wire, at));
          expect(pieces.seen).toEqual(whole.seen);
          expect(piecesOut).toBe(wholeOut);
          expect(whole.seen.map((s) => [s.method, s.url, s.body])).toEqual(
            requests.map((r) => [r.method, new URL(`http://example.test${r.path}`).href, r.body]),
          );
          for (let i = 0; i < requests.length; i++) {
            const expected = requests[i]!.headers.map(([n, v]) => [n.toLowerCase(), v]).sort();
            expect([...whole.seen[i]!.headers].sort()).toEqual(expected);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("chunked bodies decode the same at any split", () => {
    fc.assert(
      fc.property(modelRequest, cuts, (r, at) => {
        const wire = serialize({ ...r, method: "POST", framing: "chunked", body: r.body || "x" });
        const body = wire.slice(wire.indexOf("\r\n\r\n") + 4);
        const decode = (pieces: string[]) => {
          const decoder = new ChunkedDecoder(
            { maxBodyBytes: 1 << 20, maxTrailerBytes: 1024 },
            true,
          );
          let out = "";
          for (const piece of pieces) {
            const bytes = Uint8Array.from(piece, (c) => c.charCodeAt(0));
            let p = 0;
            while (p < bytes.length && !decoder.done) {
              p = decoder.decode(bytes, p, bytes.length);
              out += String.fromCharCode(...bytes.subarray(decoder.dataStart, decoder.dataEnd));
            }
          }
          expect(decoder.done).toBe(true);
          return out;
        };
        expect(decode(split(body, at))).toBe(r.body || "x");
      }),
      { numRuns: 500 },
    );
  });
});

function mutate(text: string, edits: Array<[number, number, number]>): string {
  let s = text;
  for (const [kind, where, byte] of edits) {
    const i = Math.floor(where * (s.length + 1));
    const c = String.fromCharCode(byte);
    if (kind === 0) s = s.slice(0, i) + c + s.slice(i);
    else if (kind === 1) s = s.slice(0, i) + s.slice(i + 1);
    else s = s.slice(0, i) + c + s.slice(i + 1);
  }
  return s;
}

const interesting = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x30, 0x00, 0x7f, 0xff),
);
const edits = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.double({ min: 0, max: 1, noNaN: true }), interesting),
  {
    minLength: 1,
    maxLength: 6,
  },
);

function checkOutput(out: string): void {
  // Nothing but complete, well-formed status lines in answer to anything.
  for (const response of out.split(/(?=HTTP\/1\.1 \d{3} )/)) {
    if (response === "") continue;
    expect(response).toMatch(/^HTTP\/1\.1 [1-5]\d\d [^\r\n]*\r\n/);
  }
}

describe("fuzz: hostile input", () => {
  it("mutated requests get answers, never an escaped exception", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(modelRequest, { minLength: 1, maxLength: 3 }),
        edits,
        cuts,
        async (requests, e, at) => {
          const wire = mutate(requests.map(serialize).join(""), e);
          const { handler } = recorder();
          const errors: unknown[] = [];
          const out = await rawExchange(handler, split(wire, at), {
            onError: (error) => errors.push(error),
          });
          checkOutput(out);
          // The handler never failed: whatever reached it was a valid Request.
          expect(errors).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("random bytes get at most a 4xx/5xx, never an exception", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), cuts, async (bytes, at) => {
        const text = String.fromCharCode(...bytes);
        const { handler } = recorder();
        const out = await rawExchange(handler, split(text, at));
        checkOutput(out);
      }),
      { numRuns: 300 },
    );
  });

  it("the head parser throws nothing but HttpParseError, at any split", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => String.fromCharCode(...b)),
          fc.tuple(modelRequest, edits).map(([r, e]) => mutate(serialize(r), e)),
        ),
        cuts,
        (text, at) => {
          const scanner = new HeadScanner(limits, true);
          try {
            for (const piece of split(text, at)) {
              const bytes = Uint8Array.from(piece, (c) => c.charCodeAt(0));
              const after = scanner.push(bytes, 0, bytes.length);
              if (after >= 0) {
                parseRequestHead(scanner.bytes, scanner.start, scanner.end, limits);
                break;
              }
            }
          } catch (error) {
            if (!(error instanceof HttpParseError)) throw error;
            expect([400, 413, 414, 431, 501, 505]).toContain(error.status);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
