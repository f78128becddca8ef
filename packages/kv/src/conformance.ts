// Conformance suites for KvRo and KvRw, for any driver in this repository or
// published elsewhere:
//
//   kvRoConformance({ name, setup: async (fixture) => ({ kv }) });   // a store holding `fixture`
//   kvRwConformance({ name, setup: async () => ({ kv, now }) });     // an empty store
//
// They pin mirage-kv's semantics as Atoll reads them, including every error
// code, and run a randomized comparison against a small model of those rules.

import { isAtollError } from "@atoll/core";
import { sha256 } from "@noble/hashes/sha2";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Key } from "./key.js";
import type { EntryKind, KvRo, KvRw } from "./signature.js";

/** Keys and values a read-only store must hold for the KvRo suite. */
export type KvFixture = ReadonlyArray<readonly [key: string, value: Uint8Array]>;

const enc = (s: string) => new TextEncoder().encode(s);
const patterned = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff);

/** The standard fixture: text, binary, empty, nested, long and non-ASCII names, a large value. */
export const standardFixture: KvFixture = [
  ["/hello.txt", enc("Hello, world!\n")],
  ["/empty", new Uint8Array(0)],
  ["/dir/a.bin", patterned(1024, 1)],
  ["/dir/sub/deep.txt", enc("deep\n")],
  ["/dir/sub/b", patterned(5000, 2)],
  ["/unicode/é ü 名前.txt", enc("ünïcödé\n")],
  [`/long/${"n".repeat(90)}/file-with-a-long-name-${"x".repeat(60)}.txt`, enc("long\n")],
  ["/big.bin", patterned(300 * 1024 + 7, 3)],
];

export interface KvRoHarness {
  readonly kv: KvRo;
}

export interface KvRoConformanceOptions<H extends KvRoHarness> {
  readonly name?: string;
  /** A store holding exactly `fixture` (and no other values). */
  setup(fixture: KvFixture): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
}

export interface KvRwHarness {
  readonly kv: KvRw;
  /** The wall-clock time (ms since the epoch) the store stamps changes with. */
  now(): number;
  /** Disconnects and connects a new store on the same storage (enables the persistence tests). */
  reopen?(): Promise<KvRw>;
}

export interface KvRwConformanceOptions<H extends KvRwHarness> {
  readonly name?: string;
  /** An empty store. */
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
  /** How far lastModified may be from `now()` (default 5 ms; tar keeps whole seconds). */
  readonly timeSlackMs?: number;
  /** Runs of the randomized model comparison (default 20). */
  readonly propertyRuns?: number;
}

const invalidKeys: Key[] = [
  "a//b",
  "/a/../b",
  "..",
  "/.",
  "/dir/",
  "//",
  "a\0b",
  ["a/b"],
  ["", "x"],
  ["."],
];

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function expectBytes(actual: Uint8Array, expected: Uint8Array, what = "value"): void {
  if (!(actual instanceof Uint8Array)) throw new Error(`${what}: not a Uint8Array`);
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`${what}: differs at byte ${i}`);
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    return isAtollError(error) ? error.code : `not an AtollError: ${String(error)}`;
  }
}

// ---- the model: mirage-kv's rules over a flat map of values ----------------------------------------

class Model {
  readonly values = new Map<string, Uint8Array>();

  static key(segments: readonly string[]): string {
    return `/${segments.join("/")}`;
  }

  kind(k: string): EntryKind | undefined {
    if (k === "/") return "dictionary";
    if (this.values.has(k)) return "value";
    for (const v of this.values.keys()) if (v.startsWith(`${k}/`)) return "dictionary";
    return undefined;
  }

  /** The error `set` gives, or undefined. */
  setError(k: string): string | undefined {
    if (k === "/") return "ATOLL_KV_VALUE_EXPECTED";
    const parts = k.split("/").slice(1);
    for (let i = 1; i < parts.length; i++) {
      if (this.values.has(`/${parts.slice(0, i).join("/")}`)) return "ATOLL_KV_DICTIONARY_EXPECTED";
    }
    if (this.kind(k) === "dictionary") return "ATOLL_KV_VALUE_EXPECTED";
    return undefined;
  }

  remove(k: string): void {
    if (k === "/") {
      this.values.clear();
      return;
    }
    for (const v of [...this.values.keys()])
      if (v === k || v.startsWith(`${k}/`)) this.values.delete(v);
  }

  /** Applies a rename; returns the error code or undefined. */
  rename(src: string, dst: string): string | undefined {
    if (src === "/") return "ATOLL_KV_RENAME_SOURCE_PREFIX";
    const sk = this.kind(src);
    if (sk === undefined) return "ATOLL_KV_NOT_FOUND";
    const dk = this.kind(dst);
    let to = dst;
    if (dk === "dictionary") to = `${dst === "/" ? "" : dst}/${src.split("/").at(-1)}`;
    else if (dk === "value" && sk === "dictionary") return "ATOLL_KV_DICTIONARY_EXPECTED";
    if (sk === "dictionary" && (to === src || to.startsWith(`${src}/`))) {
      return "ATOLL_KV_RENAME_SOURCE_PREFIX";
    }
    if (to === src) return undefined;
    const moved = [...this.values].filter(([v]) => v === src || v.startsWith(`${src}/`));
    const saved = new Map(this.values);
    this.remove(src);
    // The way to `to` must not pass through a value (other than the source, now gone).
    const parts = to.split("/").slice(1);
    for (let i = 1; i < parts.length; i++) {
      if (this.values.has(`/${parts.slice(0, i).join("/")}`)) {
        this.values.clear();
        for (const [k, v] of saved) this.values.set(k, v);
        return "ATOLL_KV_DICTIONARY_EXPECTED";
      }
    }
    this.remove(to);
    for (const [v, bytes] of moved) this.values.set(to + v.slice(src.length), bytes);
    return undefined;
  }
}

// ---- KvRo ---------------------------------------------------------------------------------------

export function kvRoConformance<H extends KvRoHarness>(options: KvRoConformanceOptions<H>): void {
  const fixture = standardFixture;
  const run = (body: (kv: KvRo) => Promise<void>) => async () => {
    const h = await options.setup(fixture);
    try {
      await body(h.kv);
    } finally {
      await options.teardown?.(h);
    }
  };
  const model = new Model();
  for (const [k, v] of fixture) model.values.set(k, v);

  describe(`KvRo conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "gets every value byte for byte, with its size",
      run(async (kv) => {
        for (const [key, value] of fixture) {
          expectBytes(await kv.get(key), value, key);
          expect(await kv.size(key)).toBe(value.length);
        }
      }),
    );

    it(
      "tells values, dictionaries and missing keys apart",
      run(async (kv) => {
        expect(await kv.exists("/")).toBe("dictionary");
        expect(await kv.exists("/hello.txt")).toBe("value");
        expect(await kv.exists("hello.txt")).toBe("value");
        expect(await kv.exists(["dir", "sub", "b"])).toBe("value");
        expect(await kv.exists("/dir")).toBe("dictionary");
        expect(await kv.exists("/dir/sub")).toBe("dictionary");
        expect(await kv.exists("/nope")).toBeUndefined();
        expect(await kv.exists("/hello.txt/below")).toBeUndefined();
        expect(await codeOf(kv.get("/nope"))).toBe("ATOLL_KV_NOT_FOUND");
        expect(await codeOf(kv.get("/hello.txt/below"))).toBe("ATOLL_KV_NOT_FOUND");
        expect(await codeOf(kv.get("/dir"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.get("/"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.size("/dir"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.size("/nope"))).toBe("ATOLL_KV_NOT_FOUND");
      }),
    );

    it(
      "lists dictionaries with absolute keys, sorted by name",
      run(async (kv) => {
        const root = await kv.list("/");
        expect(root.map((e) => [e.key, e.name, e.kind])).toEqual([
          ["/big.bin", "big.bin", "value"],
          ["/dir", "dir", "dictionary"],
          ["/empty", "empty", "value"],
          ["/hello.txt", "hello.txt", "value"],
          ["/long", "long", "dictionary"],
          ["/unicode", "unicode", "dictionary"],
        ]);
        expect((await kv.list("/dir")).map((e) => [e.key, e.kind])).toEqual([
          ["/dir/a.bin", "value"],
          ["/dir/sub", "dictionary"],
        ]);
        expect((await kv.list("/unicode")).map((e) => e.name)).toEqual(["é ü 名前.txt"]);
        expect(await codeOf(kv.list("/hello.txt"))).toBe("ATOLL_KV_DICTIONARY_EXPECTED");
        expect(await codeOf(kv.list("/nope"))).toBe("ATOLL_KV_NOT_FOUND");
      }),
    );

    it(
      "reads partial ranges: short at the end, empty past it",
      run(async (kv) => {
        const big = fixture.find(([k]) => k === "/big.bin")![1];
        expectBytes(await kv.getPartial("/big.bin", 0, 10), big.subarray(0, 10));
        expectBytes(await kv.getPartial("/big.bin", 70_000, 5000), big.subarray(70_000, 75_000));
        expectBytes(
          await kv.getPartial("/big.bin", big.length - 3, 100),
          big.subarray(big.length - 3),
        );
        expect((await kv.getPartial("/big.bin", big.length, 10)).length).toBe(0);
        expect((await kv.getPartial("/big.bin", big.length + 1000, 10)).length).toBe(0);
        expect((await kv.getPartial("/hello.txt", 7, 0)).length).toBe(0);
        expect((await kv.getPartial("/empty", 0, 10)).length).toBe(0);
        expect(await codeOf(kv.getPartial("/big.bin", -1, 10))).toBe("ATOLL_KV_RANGE");
        expect(await codeOf(kv.getPartial("/big.bin", 0, 1.5))).toBe("ATOLL_KV_RANGE");
        expect(await codeOf(kv.getPartial("/dir", 0, 1))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.getPartial("/nope", 0, 1))).toBe("ATOLL_KV_NOT_FOUND");
      }),
    );

    it(
      "digests values as SHA-256 and dictionaries from their entries",
      run(async (kv) => {
        for (const [key, value] of fixture) expect(await kv.digest(key)).toBe(hex(sha256(value)));
        for (const dict of ["/", "/dir", "/dir/sub", "/unicode"]) {
          expect(await kv.digest(dict)).toBe(modelDigest(model, dict));
        }
        expect(await codeOf(kv.digest("/nope"))).toBe("ATOLL_KV_NOT_FOUND");
      }),
    );

    it(
      "reports modification times: a dictionary's is the latest of its entries",
      run(async (kv) => {
        for (const [key] of fixture) {
          const t = await kv.lastModified(key);
          expect(Number.isFinite(t)).toBe(true);
          expect(t).toBeGreaterThanOrEqual(0);
        }
        const a = await kv.lastModified("/dir/a.bin");
        const sub = await kv.lastModified("/dir/sub");
        expect(await kv.lastModified("/dir")).toBeGreaterThanOrEqual(Math.max(a, sub));
        expect(sub).toBeGreaterThanOrEqual(await kv.lastModified("/dir/sub/b"));
        expect(await codeOf(kv.lastModified("/nope"))).toBe("ATOLL_KV_NOT_FOUND");
      }),
    );

    it(
      "rejects malformed keys with ATOLL_KV_INVALID_KEY",
      run(async (kv) => {
        for (const key of invalidKeys) {
          for (const op of [
            () => kv.exists(key),
            () => kv.get(key),
            () => kv.getPartial(key, 0, 1),
            () => kv.list(key),
            () => kv.lastModified(key),
            () => kv.digest(key),
            () => kv.size(key),
          ]) {
            expect(await codeOf(op()), JSON.stringify(key)).toBe("ATOLL_KV_INVALID_KEY");
          }
        }
      }),
    );

    it(
      "serves many reads at once",
      run(async (kv) => {
        const reads = Array.from({ length: 64 }, (_, i) => fixture[i % fixture.length]!);
        const got = await Promise.all(reads.map(([k]) => kv.get(k)));
        got.forEach((bytes, i) => {
          expectBytes(bytes, reads[i]![1]);
        });
      }),
    );
  });
}

/** The dictionary digest, computed from the model by the rule the signature states. */
function modelDigest(model: Model, key: string): string {
  const prefix = key === "/" ? "/" : `${key}/`;
  const names = new Map<string, EntryKind>();
  for (const v of model.values.keys()) {
    if (!v.startsWith(prefix)) continue;
    const rest = v.slice(prefix.length).split("/");
    names.set(rest[0]!, rest.length === 1 ? "value" : "dictionary");
  }
  const h = sha256.create();
  h.update(enc("atoll.kv.dictionary/1\0"));
  const sorted = [...names.keys()].sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
  for (const name of sorted) {
    const kind = names.get(name)!;
    const child = `${prefix}${name}`;
    const bytes = enc(name);
    const head = new Uint8Array(5);
    head[0] = kind === "value" ? 0x76 : 0x64;
    new DataView(head.buffer).setUint32(1, bytes.length);
    h.update(head);
    h.update(bytes);
    h.update(
      kind === "value" ? sha256(model.values.get(child)!) : fromHex(modelDigest(model, child)),
    );
  }
  return hex(h.digest());
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from({ length: text.length / 2 }, (_, i) =>
    Number.parseInt(text.slice(2 * i, 2 * i + 2), 16),
  );
}

// ---- KvRw ---------------------------------------------------------------------------------------

export function kvRwConformance<H extends KvRwHarness>(options: KvRwConformanceOptions<H>): void {
  const slack = options.timeSlackMs ?? 5;
  const run = (body: (h: H) => Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h);
    } finally {
      await options.teardown?.(h);
    }
  };

  describe(`KvRw conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "starts empty, sets and gets text and bytes, and overwrites",
      run(async ({ kv }) => {
        expect(await kv.list("/")).toEqual([]);
        await kv.set("/greeting", "héllo");
        expectBytes(await kv.get("/greeting"), enc("héllo"));
        await kv.set("/bin", patterned(3000, 4));
        expectBytes(await kv.get("/bin"), patterned(3000, 4));
        await kv.set("/bin", new Uint8Array(0));
        expect((await kv.get("/bin")).length).toBe(0);
        expect(await kv.size("/greeting")).toBe(6);
        await kv.set(["seg", "ments"], "x");
        expect(await kv.exists("/seg/ments")).toBe("value");
      }),
    );

    it(
      "keeps its own copy of values",
      run(async ({ kv }) => {
        const bytes = enc("original");
        await kv.set("/k", bytes);
        bytes.fill(0);
        const got = await kv.get("/k");
        expectBytes(got, enc("original"));
        got.fill(0);
        expectBytes(await kv.get("/k"), enc("original"));
      }),
    );

    it(
      "creates dictionaries on the way and refuses to write through a value or over a dictionary",
      run(async ({ kv }) => {
        await kv.set("/a/b/c", "1");
        expect(await kv.exists("/a")).toBe("dictionary");
        expect((await kv.list("/a/b")).map((e) => e.key)).toEqual(["/a/b/c"]);
        expect(await codeOf(kv.set("/a/b/c/d", "2"))).toBe("ATOLL_KV_DICTIONARY_EXPECTED");
        expect(await codeOf(kv.set("/a/b", "2"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.set("/", "2"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expectBytes(await kv.get("/a/b/c"), enc("1"));
        expect(await kv.exists("/a/b/c/d")).toBeUndefined();
      }),
    );

    it(
      "removes values and whole dictionaries; removing nothing is fine",
      run(async ({ kv }) => {
        await kv.set("/d/x", "1");
        await kv.set("/d/e/y", "2");
        await kv.set("/keep", "3");
        await kv.remove("/d/x");
        expect(await kv.exists("/d/x")).toBeUndefined();
        expect(await kv.exists("/d/e/y")).toBe("value");
        await kv.remove("/d");
        expect(await kv.exists("/d/e/y")).toBeUndefined();
        expect(await kv.exists("/d")).toBeUndefined();
        await kv.remove("/never");
        await kv.remove("/keep/below");
        expect((await kv.list("/")).map((e) => e.key)).toEqual(["/keep"]);
        await kv.remove("/");
        expect(await kv.list("/")).toEqual([]);
      }),
    );

    it(
      "renames values and dictionaries with mirage-kv's rules",
      run(async ({ kv }) => {
        await kv.set("/v", "v");
        await kv.rename("/v", "/w");
        expect(await kv.exists("/v")).toBeUndefined();
        expectBytes(await kv.get("/w"), enc("v"));
        await kv.set("/old", "old");
        await kv.rename("/w", "/old"); // replaces a value
        expectBytes(await kv.get("/old"), enc("v"));
        await kv.set("/dir/inside", "i");
        await kv.rename("/old", "/dir"); // into a dictionary
        expectBytes(await kv.get("/dir/old"), enc("v"));
        await kv.set("/tree/a/b", "b");
        await kv.rename("/tree", "/moved/tree2"); // a whole dictionary, creating the way
        expectBytes(await kv.get("/moved/tree2/a/b"), enc("b"));
        expect(await kv.exists("/tree")).toBeUndefined();
        await kv.rename("/moved/tree2", "/dir"); // a dictionary into a dictionary
        expectBytes(await kv.get("/dir/tree2/a/b"), enc("b"));
        await kv.rename("/dir/inside", "/dir/inside"); // onto itself: nothing happens
        expectBytes(await kv.get("/dir/inside"), enc("i"));
        expect(await codeOf(kv.rename("/dir", "/dir/tree2"))).toBe("ATOLL_KV_RENAME_SOURCE_PREFIX");
        expect(await codeOf(kv.rename("/dir", "/dir"))).toBe("ATOLL_KV_RENAME_SOURCE_PREFIX");
        expect(await codeOf(kv.rename("/", "/x"))).toBe("ATOLL_KV_RENAME_SOURCE_PREFIX");
        expect(await codeOf(kv.rename("/missing", "/x"))).toBe("ATOLL_KV_NOT_FOUND");
        await kv.set("/file", "f");
        expect(await codeOf(kv.rename("/dir", "/file"))).toBe("ATOLL_KV_DICTIONARY_EXPECTED");
        expect(await codeOf(kv.rename("/dir/inside", "/file/x"))).toBe(
          "ATOLL_KV_DICTIONARY_EXPECTED",
        );
        expectBytes(await kv.get("/dir/inside"), enc("i"));
      }),
    );

    it(
      "keeps a value's modification time across a rename",
      run(async ({ kv }) => {
        await kv.allocate("/stamped", 3, 1_000_000_000_000);
        await kv.rename("/stamped", "/restamped");
        expect(await kv.lastModified("/restamped")).toBe(1_000_000_000_000);
      }),
    );

    it(
      "writes partially: in place, appended past the end, or creating the value",
      run(async ({ kv }) => {
        await kv.set("/p", "abcdef");
        await kv.setPartial("/p", 2, "XY");
        expectBytes(await kv.get("/p"), enc("abXYef"));
        await kv.setPartial("/p", 5, "123");
        expectBytes(await kv.get("/p"), enc("abXYe123"));
        await kv.setPartial("/p", 100, "!");
        expectBytes(await kv.get("/p"), enc("abXYe123!"));
        await kv.setPartial("/new/q", 10, "fresh");
        expectBytes(await kv.get("/new/q"), enc("fresh"));
        expect(await codeOf(kv.setPartial("/new", 0, "x"))).toBe("ATOLL_KV_VALUE_EXPECTED");
        expect(await codeOf(kv.setPartial("/p", -1, "x"))).toBe("ATOLL_KV_RANGE");
        expect(await codeOf(kv.setPartial("/p/x", 0, "x"))).toBe("ATOLL_KV_DICTIONARY_EXPECTED");
      }),
    );

    it(
      "allocates zero-filled values, refusing existing keys",
      run(async ({ kv }) => {
        await kv.allocate("/z", 2000);
        expectBytes(await kv.get("/z"), new Uint8Array(2000));
        await kv.set("/d/x", "1");
        expect(await codeOf(kv.allocate("/z", 1))).toBe("ATOLL_KV_ALREADY_PRESENT");
        expect(await codeOf(kv.allocate("/d", 1))).toBe("ATOLL_KV_ALREADY_PRESENT");
        expect(await codeOf(kv.allocate("/z/below", 1))).toBe("ATOLL_KV_DICTIONARY_EXPECTED");
        expect(await codeOf(kv.allocate("/neg", -1))).toBe("ATOLL_KV_RANGE");
        await kv.allocate("/dated", 0, 946_684_800_000);
        expect(await kv.lastModified("/dated")).toBe(946_684_800_000);
      }),
    );

    it(
      "stamps changes with the wall clock; a dictionary has its latest entry's time",
      run(async ({ kv, now }) => {
        const before = now();
        await kv.set("/t/a", "1");
        const after = now();
        const t = await kv.lastModified("/t/a");
        expect(t).toBeGreaterThanOrEqual(before - slack);
        expect(t).toBeLessThanOrEqual(after + slack);
        await kv.allocate("/t/old", 1, 1000);
        expect(await kv.lastModified("/t")).toBe(t);
        expect(await kv.lastModified("/")).toBe(t);
      }),
    );

    it(
      "changes a digest when the value changes; equal contents have equal digests",
      run(async ({ kv }) => {
        await kv.set("/x/one", "same");
        await kv.set("/y/one", "same");
        const d1 = await kv.digest("/x/one");
        expect(d1).toBe(hex(sha256(enc("same"))));
        expect(await kv.digest("/x")).toBe(await kv.digest("/y"));
        await kv.set("/x/one", "different");
        expect(await kv.digest("/x/one")).not.toBe(d1);
        expect(await kv.digest("/x")).not.toBe(await kv.digest("/y"));
      }),
    );

    it(
      "rejects malformed keys in every write, writing nothing",
      run(async ({ kv }) => {
        for (const key of invalidKeys) {
          for (const op of [
            () => kv.set(key, "x"),
            () => kv.setPartial(key, 0, "x"),
            () => kv.remove(key),
            () => kv.rename(key, "/ok"),
            () => kv.rename("/ok", key),
            () => kv.allocate(key, 1),
          ]) {
            expect(await codeOf(op()), JSON.stringify(key)).toBe("ATOLL_KV_INVALID_KEY");
          }
        }
        expect(await kv.list("/")).toEqual([]);
      }),
    );

    it(
      "keeps flushed contents across a reconnect",
      run(async (h) => {
        if (h.reopen === undefined) return;
        await h.kv.set("/p/one", "1");
        await h.kv.set("/p/two", patterned(70_000, 5));
        await h.kv.set("/gone", "x");
        await h.kv.remove("/gone");
        await h.kv.rename("/p/one", "/q/uno");
        await h.kv.allocate("/dated", 4, 1_234_000);
        await h.kv.flush();
        const kv = await h.reopen();
        expectBytes(await kv.get("/q/uno"), enc("1"));
        expectBytes(await kv.get("/p/two"), patterned(70_000, 5));
        expect(await kv.exists("/gone")).toBeUndefined();
        expect(await kv.exists("/p/one")).toBeUndefined();
        expect(await kv.lastModified("/dated")).toBe(1_234_000);
      }),
    );

    it(
      "agrees with a model of the rules under random operations",
      run(async (h) => {
        const segment = fc.constantFrom("a", "b", "c");
        const key = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join("/")}`);
        const anyKey = fc.oneof(
          { weight: 9, arbitrary: key },
          { weight: 1, arbitrary: fc.constant("/") },
        );
        const value = fc.oneof(
          { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 2000 }).map((n) => patterned(n, n)) },
        );
        const op = fc.oneof(
          fc.record({ op: fc.constant("set" as const), key: anyKey, value }),
          fc.record({ op: fc.constant("remove" as const), key: anyKey }),
          fc.record({ op: fc.constant("rename" as const), key: anyKey, dest: anyKey }),
          fc.record({
            op: fc.constant("setPartial" as const),
            key,
            offset: fc.nat(50),
            value: fc.uint8Array({ maxLength: 20 }),
          }),
          fc.record({ op: fc.constant("allocate" as const), key, size: fc.nat(100) }),
          fc.record({ op: fc.constant("get" as const), key: anyKey }),
          fc.record({ op: fc.constant("list" as const), key: anyKey }),
          fc.record({ op: fc.constant("flush" as const) }),
        );
        const kv = h.kv;
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
            await kv.remove("/");
            const m = new Model();
            for (const o of ops) {
              const label = JSON.stringify(o, (_k, v) =>
                v instanceof Uint8Array ? `<${v.length} bytes>` : v,
              );
              switch (o.op) {
                case "set": {
                  const expected = m.setError(o.key) ?? "ok";
                  expect(await codeOf(kv.set(o.key, o.value)), label).toBe(expected);
                  if (expected === "ok") m.values.set(o.key, o.value);
                  break;
                }
                case "remove":
                  await kv.remove(o.key);
                  m.remove(o.key);
                  break;
                case "rename": {
                  const expected = m.rename(o.key, o.dest) ?? "ok";
                  expect(await codeOf(kv.rename(o.key, o.dest)), label).toBe(expected);
                  break;
                }
                case "setPartial": {
                  const kind = m.kind(o.key);
                  const expected =
                    kind === "dictionary" ? "ATOLL_KV_VALUE_EXPECTED" : (m.setError(o.key) ?? "ok");
                  expect(await codeOf(kv.setPartial(o.key, o.offset, o.value)), label).toBe(
                    expected,
                  );
                  if (expected === "ok") {
                    const old = m.values.get(o.key) ?? new Uint8Array(0);
                    const at = Math.min(o.offset, old.length);
                    const next = new Uint8Array(Math.max(old.length, at + o.value.length));
                    next.set(old);
                    next.set(o.value, at);
                    m.values.set(o.key, next);
                  }
                  break;
                }
                case "allocate": {
                  const expected =
                    m.kind(o.key) !== undefined
                      ? "ATOLL_KV_ALREADY_PRESENT"
                      : (m.setError(o.key) ?? "ok");
                  expect(await codeOf(kv.allocate(o.key, o.size)), label).toBe(expected);
                  if (expected === "ok") m.values.set(o.key, new Uint8Array(o.size));
                  break;
                }
                case "get": {
                  const kind = m.kind(o.key);
                  if (kind === "value")
                    expectBytes(await kv.get(o.key), m.values.get(o.key)!, label);
                  else
                    expect(await codeOf(kv.get(o.key)), label).toBe(
                      kind === "dictionary" ? "ATOLL_KV_VALUE_EXPECTED" : "ATOLL_KV_NOT_FOUND",
                    );
                  break;
                }
                case "list": {
                  const kind = m.kind(o.key);
                  if (kind === "dictionary") {
                    const prefix = o.key === "/" ? "/" : `${o.key}/`;
                    const names = new Set<string>();
                    for (const v of m.values.keys()) {
                      if (v.startsWith(prefix)) names.add(v.slice(prefix.length).split("/")[0]!);
                    }
                    expect(
                      (await kv.list(o.key)).map((e) => e.name),
                      label,
                    ).toEqual([...names].sort());
                  } else {
                    expect(await codeOf(kv.list(o.key)), label).toBe(
                      kind === "value" ? "ATOLL_KV_DICTIONARY_EXPECTED" : "ATOLL_KV_NOT_FOUND",
                    );
                  }
                  break;
                }
                case "flush":
                  await kv.flush();
                  break;
              }
            }
            // The whole state at the end: every value, and nothing else.
            const seen = new Map<string, Uint8Array>();
            const walk = async (k: string) => {
              for (const e of await kv.list(k)) {
                if (e.kind === "value") seen.set(e.key, await kv.get(e.key));
                else await walk(e.key);
              }
            };
            await walk("/");
            expect([...seen.keys()].sort()).toEqual([...m.values.keys()].sort());
            for (const [k, v] of m.values) expectBytes(seen.get(k)!, v, k);
          }),
          { numRuns: options.propertyRuns ?? 20 },
        );
      }),
    );
  });
}
