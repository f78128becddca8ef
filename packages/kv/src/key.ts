// Structured keys, after mirage-kv's Key: a path of segments. "/a/b", "a/b"
// and ["a", "b"] name the same key; "/" and [] are the root dictionary. A key
// is rejected when a segment is empty, "." or "..", or contains NUL (or "/"
// inside an array segment) — so that no driver can be walked out of its root.

import { InvalidKeyError } from "./errors.js";

/** A key as text ("/notes/1") or as segments (["notes", "1"]). */
export type Key = string | readonly string[];

/** The segments of a key; throws InvalidKeyError when it is malformed. */
export function parseKey(key: Key): string[] {
  if (typeof key === "string") {
    if (key === "/" || key === "") return [];
    const body = key.startsWith("/") ? key.slice(1) : key;
    return checkSegments(body.split("/"), key);
  }
  if (!Array.isArray(key)) throw new InvalidKeyError(String(key), "not a string or an array");
  // Each element is read once, and the copy is what is checked and returned: an array whose
  // elements are getters (or a Proxy) cannot show one segment to the checks and another to the driver.
  const segments: unknown[] = Array.from(key as readonly unknown[]);
  const shown = () => `/${segments.map(String).join("/")}`;
  for (const s of segments) {
    if (typeof s !== "string") throw new InvalidKeyError(shown(), "a segment is not a string");
    if (s.includes("/")) throw new InvalidKeyError(shown(), `segment "${s}" contains "/"`);
  }
  return checkSegments(segments as string[], shown());
}

function checkSegments(segments: string[], shown: string): string[] {
  for (const s of segments) {
    if (s === "") throw new InvalidKeyError(shown, "empty segment");
    if (s === "." || s === "..") throw new InvalidKeyError(shown, `segment "${s}"`);
    if (s.includes("\0")) throw new InvalidKeyError(shown, "contains NUL");
  }
  return segments;
}

/** The canonical text of a key: "/" for the root, "/a/b" otherwise. */
export function formatKey(segments: readonly string[]): string {
  return `/${segments.join("/")}`;
}

/** The key `child` below `parent`. */
export function joinKey(parent: Key, ...child: string[]): string {
  return formatKey([...parseKey(parent), ...parseKey(child)]);
}

/** The key's dictionary: "/a" for "/a/b", "/" for "/a" and for "/". */
export function parentKey(key: Key): string {
  return formatKey(parseKey(key).slice(0, -1));
}

/** The last segment: "b" for "/a/b", "" for the root. */
export function basename(key: Key): string {
  return parseKey(key).at(-1) ?? "";
}

/** True when `prefix` is `key` or one of its dictionaries. */
export function isPrefix(prefix: readonly string[], key: readonly string[]): boolean {
  return prefix.length <= key.length && prefix.every((s, i) => key[i] === s);
}
