// Range requests (RFC 9110 §14): one byte range per request. The field is
// scanned by hand; a field this server cannot use is ignored (the whole
// representation is sent), as §14.2 allows.

/** What a Range field asks of a representation of `length` bytes. */
export type RangeRequest =
  /** Send the whole representation: no Range, another unit, a malformed field, or several ranges. */
  | { readonly kind: "whole" }
  /** Send bytes start..end inclusive (206). */
  | { readonly kind: "part"; readonly start: number; readonly end: number }
  /** No range overlaps the representation (416, `Content-Range: bytes * /length`). */
  | { readonly kind: "unsatisfiable" };

const WHOLE: RangeRequest = { kind: "whole" };
const UNSATISFIABLE: RangeRequest = { kind: "unsatisfiable" };

/** Longest Range field considered; longer ones are ignored. */
const MAX_FIELD = 256;

/** Parses a decimal integer of at most 15 digits (beyond, it stands for "larger than any length"). */
function digits(s: string, from: number, to: number): number | undefined {
  if (from >= to) return undefined;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    if (i - from < 15) value = value * 10 + c;
    else value = Number.MAX_SAFE_INTEGER;
  }
  return value;
}

/**
 * Interprets a Range field for a representation of `length` bytes. A list of
 * several ranges is answered whole (multipart/byteranges is not produced).
 */
export function parseRange(field: string | null, length: number): RangeRequest {
  if (field === null || field.length > MAX_FIELD) return WHOLE;
  const s = field.trim();
  const eq = s.indexOf("=");
  if (eq < 0 || s.slice(0, eq).trim().toLowerCase() !== "bytes") return WHOLE;
  const specs = s.slice(eq + 1).split(",");
  const nonEmpty = specs.map((p) => p.trim()).filter((p) => p.length > 0);
  if (nonEmpty.length !== 1) return WHOLE;
  const spec = nonEmpty[0]!;
  const dash = spec.indexOf("-");
  if (dash < 0) return WHOLE;
  if (dash === 0) {
    // suffix-range: the last N bytes.
    const suffix = digits(spec, 1, spec.length);
    if (suffix === undefined) return WHOLE;
    if (suffix === 0 || length === 0) return UNSATISFIABLE;
    return { kind: "part", start: Math.max(0, length - suffix), end: length - 1 };
  }
  const first = digits(spec, 0, dash);
  if (first === undefined) return WHOLE;
  const last = dash === spec.length - 1 ? undefined : digits(spec, dash + 1, spec.length);
  if (dash !== spec.length - 1 && last === undefined) return WHOLE;
  if (last !== undefined && last < first) return WHOLE; // invalid int-range
  if (first >= length) return UNSATISFIABLE;
  return { kind: "part", start: first, end: Math.min(last ?? length - 1, length - 1) };
}
