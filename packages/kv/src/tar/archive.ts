// Reading an archive's table of contents: one pass over the headers from the
// start of the device to the end-of-archive marker (the first zero block),
// skipping member data. Pax and GNU long-name headers are folded into the
// member they describe; the member's "run" covers them all, so a member can
// later be moved or deleted as a whole.

import type { BlockBytes } from "../bytes.js";
import { CorruptStoreError, UnknownFormatError } from "../errors.js";
import {
  BLOCK,
  blocksFor,
  fromUtf8,
  hasTarMagic,
  isZeroBlock,
  parseHeader,
  parsePax,
} from "./format.js";

/** The name Atoll gives the global headers that stand in for deleted members. */
export const TOMBSTONE_NAME = "atoll-kv-deleted";
/** Extended headers larger than this are treated as damage, not read. */
const MAX_EXTENDED = 1 << 20;

export type MemberKind = "file" | "directory" | "hardlink" | "tombstone" | "other";

export interface Member {
  kind: MemberKind;
  /** The member's key, or undefined when its name cannot be a key (absolute escapes, ".."). */
  segments: string[] | undefined;
  /** First byte of the run (its first extended header, or its header). */
  start: number;
  /** First byte of the data. */
  dataOffset: number;
  size: number;
  /** First byte after the padded data. */
  end: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  /** For a hard link: the key of the member it shares data with. */
  linkTarget?: string[] | undefined;
}

/** A member name as key segments: "./a//b/" → ["a", "b"]; undefined when it climbs with "..". */
export function nameToSegments(name: string): string[] | undefined {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".." || p.includes("\0"))) return undefined;
  return parts;
}

class Reader {
  #start = -1;
  #data: Uint8Array = new Uint8Array(0);
  constructor(readonly bytes: BlockBytes) {}
  async at(offset: number, length: number): Promise<Uint8Array> {
    if (offset >= this.#start && offset + length <= this.#start + this.#data.length) {
      return this.#data.subarray(offset - this.#start, offset - this.#start + length);
    }
    const size = Math.min(this.bytes.size - offset, Math.max(length, 64 * 1024));
    this.#data = await this.bytes.read(offset, size);
    this.#start = offset;
    return this.#data.subarray(0, length);
  }
}

/** Reads every header up to the end-of-archive marker. */
export async function scanArchive(bytes: BlockBytes): Promise<{ members: Member[]; end: number }> {
  const reader = new Reader(bytes);
  const members: Member[] = [];
  let offset = 0;
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let runStart = -1;
  const limit = bytes.size - (bytes.size % BLOCK);
  while (offset + BLOCK <= limit) {
    const block = await reader.at(offset, BLOCK);
    if (isZeroBlock(block)) break;
    let header: ReturnType<typeof parseHeader>;
    try {
      header = parseHeader(block, offset);
    } catch (error) {
      if (offset === 0 && !hasTarMagic(block)) {
        throw new UnknownFormatError(
          `the device does not hold a tar archive (${describeForeign(block)})`,
        );
      }
      throw error;
    }
    const dataOffset = offset + BLOCK;
    const end = dataOffset + blocksFor(header.size) * BLOCK;
    if (end > limit) {
      throw new CorruptStoreError(
        `truncated archive: "${header.name}" needs ${header.size} bytes past the end of the device`,
        offset,
      );
    }
    const flag = header.typeflag;
    if (flag === "x" || flag === "L" || flag === "K") {
      if (header.size > MAX_EXTENDED) {
        throw new CorruptStoreError(`extended header of ${header.size} bytes`, offset);
      }
      const data = (await reader.at(dataOffset, header.size)).slice();
      if (runStart < 0) runStart = offset;
      if (flag === "x") pax = new Map([...(pax ?? []), ...parsePax(data, dataOffset)]);
      else {
        const nul = data.indexOf(0);
        const value = fromUtf8(nul < 0 ? data : data.subarray(0, nul));
        if (flag === "L") longName = value;
        else longLink = value;
      }
      offset = end;
      continue;
    }
    const start = runStart < 0 ? offset : runStart;
    if (flag === "g") {
      if (runStart >= 0) {
        throw new CorruptStoreError(
          "global header between an extended header and its member",
          offset,
        );
      }
      members.push({
        kind: header.name === TOMBSTONE_NAME ? "tombstone" : "other",
        segments: undefined,
        start,
        dataOffset,
        size: header.size,
        end,
        mtime: 0,
      });
      offset = end;
      continue;
    }
    const name = pax?.get("path") ?? longName ?? header.name;
    const size = pax?.has("size") ? Number(pax.get("size")) : header.size;
    const seconds = pax?.has("mtime") ? Number(pax.get("mtime")) : header.mtime;
    if (!Number.isSafeInteger(size) || size < 0 || !Number.isFinite(seconds)) {
      throw new CorruptStoreError(`malformed pax size or mtime for "${name}"`, offset);
    }
    const memberEnd = dataOffset + blocksFor(size) * BLOCK;
    if (memberEnd > limit) {
      throw new CorruptStoreError(
        `truncated archive: "${name}" runs past the end of the device`,
        offset,
      );
    }
    const segments = nameToSegments(name);
    const kind: MemberKind =
      flag === "0" || flag === "7"
        ? "file"
        : flag === "5"
          ? "directory"
          : flag === "1"
            ? "hardlink"
            : "other";
    members.push({
      kind: segments === undefined ? "other" : kind,
      segments,
      start,
      dataOffset,
      size: kind === "hardlink" ? 0 : size,
      end: kind === "hardlink" ? dataOffset + blocksFor(size) * BLOCK : memberEnd,
      mtime: Math.round(seconds * 1000),
      linkTarget:
        kind === "hardlink"
          ? nameToSegments(pax?.get("linkpath") ?? longLink ?? header.linkname)
          : undefined,
    });
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    runStart = -1;
    offset = memberEnd;
  }
  if (runStart >= 0) {
    throw new CorruptStoreError(
      "extended header without a member before the end of the archive",
      runStart,
    );
  }
  return { members, end: offset };
}

function describeForeign(block: Uint8Array): string {
  const ascii = (at: number, n: number) => String.fromCharCode(...block.subarray(at, at + n));
  if (ascii(0, 8) === "ATOLLKV1") return "it holds an Atoll log store";
  if (block[0] === 0x89 && ascii(1, 3) === "PNG") return "it holds a PNG image";
  if (ascii(0, 4) === "\x7fELF") return "it holds an ELF file";
  if (block[0] === 0x1f && block[1] === 0x8b) return "it holds gzip data: decompress it first";
  return "the first header is not a tar header";
}
