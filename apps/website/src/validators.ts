// Validators and preconditions (RFC 9110 §8.8 and §13): entity tags from the
// store's digests, Last-Modified dates, and the order in which If-Match,
// If-Unmodified-Since, If-None-Match and If-Modified-Since are evaluated.
// Entity tags are scanned by hand; dates go to the platform's Date parser
// after a length check.

/** A strong entity tag for a digest: `"<hex sha-256>"`. */
export function entityTag(digest: string): string {
  return `"${digest}"`;
}

/** An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for a time in ms since the epoch. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * Parses an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime
 * forms, as far as the platform's Date parser reads them) to ms since the
 * epoch, whole seconds; undefined when it is not one. A list is not a date.
 */
export function parseHttpDate(value: string): number | undefined {
  if (value.length > 64 || value.length < 20) return undefined;
  // A comma after the weekday belongs to the date; a second one makes it a list.
  if (value.indexOf(",") !== value.lastIndexOf(",")) return undefined;
  // IMF-fixdate and RFC 850 dates end in GMT; asctime (`Sun Nov  6 08:49:37 1994`) has no
  // zone and no comma, and is UTC too.
  const gmt = value.endsWith(" GMT");
  if (!gmt && (value.length !== 24 || value.includes(","))) return undefined;
  const ms = Date.parse(gmt ? value : `${value} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** An entity tag from a request field: its opaque part and whether it was marked weak. */
export interface RequestTag {
  readonly weak: boolean;
  /** The tag with its quotes, `"abc"`. */
  readonly opaque: string;
}

/** `*` (any), a list of tags, or undefined for a malformed field (which is then ignored). */
export type TagList = "*" | readonly RequestTag[];

const DQUOTE = 0x22;

/** Parses `If-Match`/`If-None-Match`: `*` or `1#entity-tag` (commas may sit inside a tag). */
export function parseTagList(value: string): TagList | undefined {
  const s = value.trim();
  if (s === "*") return "*";
  const tags: RequestTag[] = [];
  let i = 0;
  const n = s.length;
  const skipSeparators = () => {
    while (i < n && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
  };
  skipSeparators();
  while (i < n) {
    let weak = false;
    if (s[i] === "W" && s[i + 1] === "/") {
      weak = true;
      i += 2;
    }
    if (s.charCodeAt(i) !== DQUOTE) return undefined;
    const start = i;
    i++;
    while (i < n && s.charCodeAt(i) !== DQUOTE) {
      const c = s.charCodeAt(i);
      // etagc = %x21 / %x23-7E / obs-text
      if (c < 0x21 || c === 0x7f) return undefined;
      i++;
    }
    if (i >= n) return undefined;
    i++;
    tags.push({ weak, opaque: s.slice(start, i) });
    const before = i;
    skipSeparators();
    if (i < n && (i === before || !s.slice(before, i).includes(","))) return undefined;
    if (tags.length > 64) return undefined;
  }
  return tags.length > 0 ? tags : undefined;
}

/** RFC 9110 §8.8.3.2: strong comparison (both strong, same opaque tag). */
function strongMatch(list: TagList, etag: string): boolean {
  return list === "*" || list.some((t) => !t.weak && t.opaque === etag);
}

/** RFC 9110 §8.8.3.2: weak comparison (same opaque tag, either weak). */
function weakMatch(list: TagList, etag: string): boolean {
  return list === "*" || list.some((t) => t.opaque === etag);
}

export interface Representation {
  /** Its strong entity tag, with quotes. */
  readonly etag: string;
  /** ms since the epoch; 0 when unknown (then dates never validate). */
  readonly lastModified: number;
}

/** What the preconditions decide for a GET or HEAD of an existing representation. */
export type PreconditionOutcome = "proceed" | "not-modified" | "precondition-failed";

/** Evaluates the request's preconditions in RFC 9110 §13.2.2's order, for GET and HEAD. */
export function evaluatePreconditions(
  headers: Headers,
  representation: Representation,
): PreconditionOutcome {
  const { etag, lastModified } = representation;
  const seconds = Math.floor(lastModified / 1000) * 1000;
  const ifMatch = headers.get("if-match");
  const ifMatchList = ifMatch === null ? undefined : parseTagList(ifMatch);
  if (ifMatchList !== undefined) {
    if (!strongMatch(ifMatchList, etag)) return "precondition-failed";
  } else if (ifMatch === null) {
    const ius = headers.get("if-unmodified-since");
    const date = ius === null ? undefined : parseHttpDate(ius);
    if (date !== undefined && lastModified > 0 && seconds > date) return "precondition-failed";
  }
  const ifNoneMatch = headers.get("if-none-match");
  const inmList = ifNoneMatch === null ? undefined : parseTagList(ifNoneMatch);
  if (inmList !== undefined) {
    if (weakMatch(inmList, etag)) return "not-modified";
  } else if (ifNoneMatch === null) {
    const ims = headers.get("if-modified-since");
    const date = ims === null ? undefined : parseHttpDate(ims);
    if (date !== undefined && lastModified > 0 && seconds <= date) return "not-modified";
  }
  return "proceed";
}

/**
 * RFC 9110 §13.1.5: whether a Range request may be answered with a part.
 * Without If-Range, yes; with an entity tag, when it matches strongly; with
 * a date, when it is exactly the Last-Modified date.
 */
export function ifRangeAllows(headers: Headers, representation: Representation): boolean {
  const value = headers.get("if-range");
  if (value === null) return true;
  const s = value.trim();
  if (s.startsWith('"') || s.startsWith("W/")) {
    const list = parseTagList(s);
    return (
      list !== undefined &&
      list !== "*" &&
      list.length === 1 &&
      strongMatch(list, representation.etag)
    );
  }
  const date = parseHttpDate(s);
  return (
    date !== undefined &&
    representation.lastModified > 0 &&
    date === Math.floor(representation.lastModified / 1000) * 1000
  );
}
