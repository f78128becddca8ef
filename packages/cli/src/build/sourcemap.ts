// Just enough of the source map format (v3) to say which source file and line
// produced a position of the bundle: used to name where a host global is used.

const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const digit = new Map([...base64].map((c, i) => [c, i]));

export interface SourceMap {
  readonly sources: readonly string[];
  readonly mappings: string;
}

export interface OriginalPosition {
  readonly source: string;
  /** 1-based. */
  readonly line: number;
}

/** Decodes the mappings once; `lookup(line, column)` (0-based, generated) finds the original position. */
export function sourceMapLookup(
  map: SourceMap,
): (line: number, column: number) => OriginalPosition | undefined {
  // Per generated line: [column, source, line] triples, in column order.
  const lines: number[][] = [];
  let source = 0;
  let origLine = 0;
  for (const text of map.mappings.split(";")) {
    const segments: number[] = [];
    let column = 0;
    for (const segment of text.split(",")) {
      if (segment === "") continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const c of segment) {
        const d = digit.get(c) ?? 0;
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0] ?? 0;
      if (fields.length >= 4) {
        source += fields[1]!;
        origLine += fields[2]!;
        segments.push(column, source, origLine);
      }
    }
    lines.push(segments);
  }
  return (line, column) => {
    const segments = lines[line];
    if (segments === undefined) return undefined;
    let found = -1;
    for (let i = 0; i < segments.length; i += 3) {
      if (segments[i]! > column) break;
      found = i;
    }
    if (found < 0) return undefined;
    return { source: map.sources[segments[found + 1]!] ?? "?", line: segments[found + 2]! + 1 };
  };
}
