// The static file handler on WHATWG Requests: media types, validators,
// conditional requests, ranges, HEAD, paths.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentTypeFor } from "../src/content-type.js";
import { parseRange } from "../src/range.js";
import { pathSegments, staticSite } from "../src/static-site.js";
import { httpDate, parseTagList } from "../src/validators.js";
import { digestOf, storeOf } from "./support/site.js";

const MTIME = 1_700_000_000_000; // Tue, 14 Nov 2023 22:13:20 GMT
const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
const files = {
  "/index.html": "<!doctype html><title>home</title>",
  "/style.css": "body{color:red}",
  "/alphabet.txt": alphabet,
  "/empty.txt": "",
  "/blob.bin": new Uint8Array([0, 1, 2, 253, 254, 255]),
  "/docs/index.html": "<p>docs</p>",
  "/docs/guide.html": "<p>guide</p>",
  "/nodir/readme.md": "# no index here",
  "/404.html": "<h1>gone</h1>",
  "/caf\u00e9.txt": "accent",
};
const site = staticSite(storeOf(files, MTIME), {
  headers: { server: "test" },
  htmlHeaders: { "content-security-policy": "default-src 'self'" },
});
const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  site(new Request(`http://site.test${path}`, { method, headers }));
const tag = (key: keyof typeof files) => `"${digestOf(files[key])}"`;

describe("GET and HEAD", () => {
  it("serves / from index.html with type, length, ETag from the digest and Last-Modified", async () => {
    const r = await get("/");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(files["/index.html"]);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(r.headers.get("content-length")).toBe(String(files["/index.html"].length));
    expect(r.headers.get("etag")).toBe(tag("/index.html"));
    expect(r.headers.get("last-modified")).toBe("Tue, 14 Nov 2023 22:13:20 GMT");
    expect(r.headers.get("accept-ranges")).toBe("bytes");
    expect(r.headers.get("cache-control")).toBe("no-cache");
    expect(r.headers.get("content-security-policy")).toBe("default-src 'self'");
    expect(r.headers.get("server")).toBe("test");
  });

  it("gives non-HTML files their own type and no page policy", async () => {
    const css = await get("/style.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("content-security-policy")).toBeNull();
    expect(css.headers.get("x-content-type-options")).toBe("nosniff");
    const bin = await get("/blob.bin");
    expect(bin.headers.get("content-type")).toBe("application/octet-stream");
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it("answers HEAD with GET's fields and no body", async () => {
    const g = await get("/alphabet.txt");
    const h = await get("/alphabet.txt", {}, "HEAD");
    expect(h.status).toBe(200);
    expect(h.body).toBeNull();
    expect([...h.headers]).toEqual([...g.headers]);
  });

  it("serves an empty file with length 0", async () => {
    const r = await get("/empty.txt");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe("0");
    expect(await r.text()).toBe("");
  });

  it("refuses other methods with 405 and Allow", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await get("/", {}, method);
      expect(r.status).toBe(405);
      expect(r.headers.get("allow")).toBe("GET, HEAD");
    }
  });
});

describe("paths", () => {
  it("redirects a directory named without its slash, keeping the query", async () => {
    const r = await get("/docs?x=1");
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe("/docs/?x=1");
    expect(await (await get("/docs/")).text()).toBe("<p>docs</p>");
    expect(await (await get("/docs/guide.html")).text()).toBe("<p>guide</p>");
  });

  it("answers 404 with the 404 page for missing keys, directories without an index and file paths with a slash", async () => {
    for (const path of ["/missing", "/docs/missing.html", "/nodir/", "/style.css/", "/a/b/c"]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(await r.text()).toBe("<h1>gone</h1>");
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    }
    const head = await get("/missing", {}, "HEAD");
    expect(head.status).toBe(404);
    expect(head.body).toBeNull();
    expect(head.headers.get("content-length")).toBe("13");
  });

  it("never leaves the store: encoded dots and slashes, NULs and bad escapes are not keys", async () => {
    for (const path of [
      "/%2e%2e/etc/passwd",
      "/docs/%2E%2E/%2E%2E/x",
      "/docs%2Fguide.html",
      "/a%00b",
      "/%E0%A4%A",
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
    // The URL parser resolves dot segments, encoded or not, before the handler sees a path
    // ("/.%2e/" is "/"); on a raw path, the handler refuses them itself.
    expect(new URL("http://x/docs/.%2e/.%2E/x").pathname).toBe("/x");
    expect(pathSegments("/a/%2e%2e/b")).toBeUndefined();
    expect(pathSegments("/a/./b")).toBeUndefined();
    expect(pathSegments("/a//b")).toBeUndefined();
    expect(pathSegments("/")).toEqual({ segments: [], directory: true });
    expect(pathSegments("/caf%C3%A9.txt")).toEqual({
      segments: ["caf\u00e9.txt"],
      directory: false,
    });
  });

  it("decodes percent-encoded names", async () => {
    expect(await (await get("/caf%C3%A9.txt")).text()).toBe("accent");
  });

  it("without a 404 page, answers in plain text", async () => {
    const bare = staticSite(storeOf({ "/index.html": "x" }));
    const r = await bare(new Request("http://site.test/nope"));
    expect(r.status).toBe(404);
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });
});

describe("conditional requests (RFC 9110 §13)", () => {
  const etag = tag("/alphabet.txt");
  const date = httpDate(MTIME);

  it("If-None-Match with the ETag, weakly, in a list, or * → 304 with the validators and no body", async () => {
    for (const value of [etag, `W/${etag}`, `"nope", ${etag}`, "*", ` "x,y" ,${etag} `]) {
      const r = await get("/alphabet.txt", { "if-none-match": value });
      expect(r.status, value).toBe(304);
      expect(r.body).toBeNull();
      expect(r.headers.get("etag")).toBe(etag);
      expect(r.headers.get("cache-control")).toBe("no-cache");
      expect(r.headers.get("last-modified")).toBe(date);
    }
  });

  it("If-None-Match that does not match, or is malformed, → 200", async () => {
    for (const value of ['"other"', 'W/"other"', etag.slice(0, -1), "abc", `${etag} ${etag}`]) {
      expect((await get("/alphabet.txt", { "if-none-match": value })).status, value).toBe(200);
    }
  });

  it("If-Modified-Since → 304 when not modified since, and is ignored beside If-None-Match", async () => {
    expect((await get("/alphabet.txt", { "if-modified-since": date })).status).toBe(304);
    expect(
      (await get("/alphabet.txt", { "if-modified-since": httpDate(MTIME + 60_000) })).status,
    ).toBe(304);
    expect(
      (await get("/alphabet.txt", { "if-modified-since": httpDate(MTIME - 1000) })).status,
    ).toBe(200);
    expect((await get("/alphabet.txt", { "if-modified-since": "yesterday" })).status).toBe(200);
    const both = await get("/alphabet.txt", {
      "if-none-match": '"other"',
      "if-modified-since": date,
    });
    expect(both.status).toBe(200);
  });

  it("If-Match and If-Unmodified-Since → 412 when they fail", async () => {
    expect((await get("/alphabet.txt", { "if-match": etag })).status).toBe(200);
    expect((await get("/alphabet.txt", { "if-match": "*" })).status).toBe(200);
    expect((await get("/alphabet.txt", { "if-match": '"other"' })).status).toBe(412);
    // If-Match uses the strong comparison: a weak tag never matches.
    expect((await get("/alphabet.txt", { "if-match": `W/${etag}` })).status).toBe(412);
    expect(
      (await get("/alphabet.txt", { "if-unmodified-since": httpDate(MTIME - 1000) })).status,
    ).toBe(412);
    expect((await get("/alphabet.txt", { "if-unmodified-since": date })).status).toBe(200);
  });

  it("parses entity-tag lists by hand, commas inside tags included", () => {
    expect(parseTagList('"a,b", W/"c"')).toEqual([
      { weak: false, opaque: '"a,b"' },
      { weak: true, opaque: '"c"' },
    ]);
    expect(parseTagList("*")).toBe("*");
    expect(parseTagList('"a" "b"')).toBeUndefined();
    expect(parseTagList('"unterminated')).toBeUndefined();
    expect(parseTagList("")).toBeUndefined();
  });
});

describe("ranges (RFC 9110 §14)", () => {
  const text = async (r: Response) => r.text();

  it("answers one range with 206, Content-Range and the bytes", async () => {
    const cases: Array<[string, string, string]> = [
      ["bytes=0-9", "0123456789", "bytes 0-9/36"],
      ["bytes=10-", alphabet.slice(10), "bytes 10-35/36"],
      ["bytes=-6", "uvwxyz", "bytes 30-35/36"],
      ["bytes=30-1000", "uvwxyz", "bytes 30-35/36"],
      ["bytes=-100", alphabet, "bytes 0-35/36"],
      ["BYTES = 5-5", "5", "bytes 5-5/36"],
    ];
    for (const [range, body, contentRange] of cases) {
      const r = await get("/alphabet.txt", { range });
      expect(r.status, range).toBe(206);
      expect(await text(r)).toBe(body);
      expect(r.headers.get("content-range")).toBe(contentRange);
      expect(r.headers.get("content-length")).toBe(String(body.length));
      expect(r.headers.get("etag")).toBe(tag("/alphabet.txt"));
    }
  });

  it("answers 416 with bytes */length when no range is satisfiable", async () => {
    for (const range of ["bytes=36-", "bytes=100-200", "bytes=-0"]) {
      const r = await get("/alphabet.txt", { range });
      expect(r.status, range).toBe(416);
      expect(r.headers.get("content-range")).toBe("bytes */36");
    }
    expect((await get("/empty.txt", { range: "bytes=0-" })).status).toBe(416);
    expect((await get("/empty.txt", { range: "bytes=-1" })).status).toBe(416);
  });

  it("sends the whole file for malformed ranges, other units, and several ranges", async () => {
    for (const range of [
      "bytes=9-3",
      "bytes=a-b",
      "items=0-1",
      "bytes=0-1,3-4",
      "bytes",
      "bytes=--1",
      "bytes=1-2-3",
    ]) {
      const r = await get("/alphabet.txt", { range });
      expect(r.status, range).toBe(200);
      expect(await text(r)).toBe(alphabet);
    }
  });

  it("honours If-Range: a matching strong tag or exact date gives the part, anything else the whole", async () => {
    const etag = tag("/alphabet.txt");
    expect((await get("/alphabet.txt", { range: "bytes=0-1", "if-range": etag })).status).toBe(206);
    expect(
      (await get("/alphabet.txt", { range: "bytes=0-1", "if-range": httpDate(MTIME) })).status,
    ).toBe(206);
    expect((await get("/alphabet.txt", { range: "bytes=0-1", "if-range": '"old"' })).status).toBe(
      200,
    );
    expect(
      (await get("/alphabet.txt", { range: "bytes=0-1", "if-range": `W/${etag}` })).status,
    ).toBe(200);
    expect(
      (await get("/alphabet.txt", { range: "bytes=0-1", "if-range": httpDate(MTIME + 1000) }))
        .status,
    ).toBe(200);
  });

  it("ignores Range for HEAD, and evaluates If-None-Match first", async () => {
    const h = await get("/alphabet.txt", { range: "bytes=0-1" }, "HEAD");
    expect(h.status).toBe(200);
    expect(h.headers.get("content-length")).toBe("36");
    const r = await get("/alphabet.txt", {
      range: "bytes=0-1",
      "if-none-match": tag("/alphabet.txt"),
    });
    expect(r.status).toBe(304);
  });

  it("property: any Range field gives the whole, nothing, or a part inside the file", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.nat(1000), (field, length) => {
        const r = parseRange(`bytes=${field}`, length);
        if (r.kind === "part") {
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.end).toBeGreaterThanOrEqual(r.start);
          expect(r.end).toBeLessThan(length);
        }
      }),
    );
  });

  it("property: a served part is exactly the slice of the file it names", async () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 31) & 255);
    const handler = staticSite(storeOf({ "/f.bin": bytes }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .tuple(fc.nat(400), fc.option(fc.nat(400), { nil: undefined }))
            .map(([a, b]) => `${a}-${b ?? ""}`),
          fc.nat(400).map((n) => `-${n}`),
        ),
        async (spec) => {
          const r = await handler(
            new Request("http://x/f.bin", { headers: { range: `bytes=${spec}` } }),
          );
          const body = new Uint8Array(await r.arrayBuffer());
          if (r.status === 206) {
            const m = /^bytes (\d+)-(\d+)\/300$/.exec(r.headers.get("content-range") ?? "");
            expect(m).not.toBeNull();
            const [start, end] = [Number(m![1]), Number(m![2])];
            expect([...body]).toEqual([...bytes.slice(start, end + 1)]);
          } else if (r.status === 416) {
            expect(body.length).toBe(0);
            expect(r.headers.get("content-range")).toBe("bytes */300");
          } else {
            expect(r.status).toBe(200);
            expect(body.length).toBe(300);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("peer input", () => {
  it("property: arbitrary paths and precondition/range fields get a well-formed answer, never an exception", async () => {
    const field = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(tag("/alphabet.txt"), httpDate(MTIME), "*", "bytes=0-1", 'W/"x", "y"'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 12 }),
            fc.constantFrom("..", ".", "%2e", "%2F", "%", "docs", "alphabet.txt"),
          ),
          {
            maxLength: 5,
          },
        ),
        fc.boolean(),
        fc.record(
          {
            range: field,
            "if-range": field,
            "if-none-match": field,
            "if-match": field,
            "if-modified-since": field,
            "if-unmodified-since": field,
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom("GET", "HEAD", "POST"),
        async (segments, slash, headers, method) => {
          const path = `/${segments.map((s) => encodeURI(s)).join("/")}${slash ? "/" : ""}`;
          let request: Request;
          try {
            request = new Request(`http://site.test${path}`, { method, headers });
          } catch {
            return; // not a request a server could receive
          }
          const r = await site(request);
          expect([200, 206, 301, 304, 404, 405, 412, 416]).toContain(r.status);
          const body = new Uint8Array(await r.arrayBuffer());
          const length = r.headers.get("content-length");
          if (length !== null && method !== "HEAD") expect(body.length).toBe(Number(length));
          if (method === "HEAD") expect(body.length).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("media types", () => {
  it("knows the web's common extensions, case-insensitively", () => {
    expect(contentTypeFor("a.HTML")).toBe("text/html; charset=utf-8");
    expect(contentTypeFor("a.js")).toBe("text/javascript; charset=utf-8");
    expect(contentTypeFor("a.svg")).toBe("image/svg+xml");
    expect(contentTypeFor("a.png")).toBe("image/png");
    expect(contentTypeFor("a.woff2")).toBe("font/woff2");
    expect(contentTypeFor("a.json")).toBe("application/json");
    expect(contentTypeFor("a.wasm")).toBe("application/wasm");
    expect(contentTypeFor("Makefile")).toBe("application/octet-stream");
    expect(contentTypeFor(".hidden")).toBe("application/octet-stream");
    expect(contentTypeFor("trailing.")).toBe("application/octet-stream");
  });
});
