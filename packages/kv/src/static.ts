// The static store: a directory captured at build time (see @atoll/kv/build)
// into a module the image embeds. Read-only; values are decoded from base64 on
// first use, checked against their recorded SHA-256, and kept.

import { driver } from "@atoll/core";
import { decodeBase64 } from "./base64.js";
import { CorruptStoreError, KeyNotFoundError, UnknownFormatError } from "./errors.js";
import { formatKey, type Key, parseKey } from "./key.js";
import { type EntryKind, type KvEntry, KvRo } from "./signature.js";
import { KeyTree } from "./tree.js";
import { dictionaryDigest, dictionaryLastModified, partialRange, sha256Hex } from "./util.js";

export const STATIC_KV_FORMAT = "atoll.kv.static/1";

/** What `atoll-kv-static` and `staticKvPlugin` generate. */
export interface StaticKvImage {
  readonly format: typeof STATIC_KV_FORMAT;
  /** One entry per file: key, modification time (ms), hex SHA-256, base64 contents. */
  readonly files: ReadonlyArray<
    readonly [key: string, lastModified: number, sha256: string, base64: string]
  >;
}

interface Asset {
  readonly mtime: number;
  readonly sha256: string;
  readonly base64: string;
  bytes?: Uint8Array;
}

export class StaticKv implements KvRo {
  readonly #tree = new KeyTree<Asset>();

  constructor(image: StaticKvImage) {
    if (typeof image !== "object" || image === null || image.format !== STATIC_KV_FORMAT) {
      throw new UnknownFormatError(
        `not a static kv image: expected format "${STATIC_KV_FORMAT}", got ${JSON.stringify((image as { format?: unknown })?.format)}`,
      );
    }
    if (!Array.isArray(image.files)) throw new CorruptStoreError("static kv image without files");
    for (const entry of image.files) {
      const [key, mtime, sha256, base64] = Array.isArray(entry) ? entry : [];
      if (
        typeof key !== "string" ||
        typeof mtime !== "number" ||
        typeof sha256 !== "string" ||
        typeof base64 !== "string"
      ) {
        throw new CorruptStoreError(
          `malformed static kv entry ${JSON.stringify(entry)?.slice(0, 80)}`,
        );
      }
      try {
        this.#tree.set(parseKey(key), { mtime, sha256, base64 });
      } catch (error) {
        throw new CorruptStoreError(
          `static kv entry ${JSON.stringify(key)} cannot be stored`,
          undefined,
          {
            cause: error,
          },
        );
      }
    }
  }

  async exists(key: Key): Promise<EntryKind | undefined> {
    return this.#tree.find(parseKey(key))?.kind;
  }

  async get(key: Key): Promise<Uint8Array> {
    return this.#bytes(parseKey(key)).slice();
  }

  async getPartial(key: Key, offset: number, length: number): Promise<Uint8Array> {
    const bytes = this.#bytes(parseKey(key));
    const [start, end] = partialRange(bytes.length, offset, length);
    return bytes.slice(start, end);
  }

  async list(key: Key): Promise<KvEntry[]> {
    return this.#tree.list(parseKey(key));
  }

  async lastModified(key: Key): Promise<number> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "value") return node.data.mtime;
    return dictionaryLastModified(this, this.#tree.list(segments));
  }

  async digest(key: Key): Promise<string> {
    const segments = parseKey(key);
    const node = this.#tree.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind === "value") {
      this.#bytes(segments);
      return node.data.sha256;
    }
    return dictionaryDigest(this, segments);
  }

  async size(key: Key): Promise<number> {
    return this.#bytes(parseKey(key)).length;
  }

  #bytes(segments: readonly string[]): Uint8Array {
    const asset = this.#tree.value(segments).data;
    if (asset.bytes === undefined) {
      const bytes = decodeBase64(asset.base64);
      if (bytes === undefined) {
        throw new CorruptStoreError(`static kv entry ${formatKey(segments)} is not valid base64`);
      }
      if (sha256Hex(bytes) !== asset.sha256) {
        throw new CorruptStoreError(
          `static kv entry ${formatKey(segments)} does not match its SHA-256`,
        );
      }
      asset.bytes = bytes;
    }
    return asset.bytes;
  }
}

/**
 * The static KvRo driver over an image generated at build time:
 *
 *   import site from "./site.gen.ts";        // atoll-kv-static public/ src/site.gen.ts
 *   bindings: { assets: staticKv(site) }
 */
export const staticKv = (image: StaticKvImage) =>
  driver({
    name: "kv.static",
    provides: KvRo,
    connect: () => new StaticKv(image),
  });
