// Helpers for the tests: a StaticKv built from an object of files, and the
// site/ directory captured the way the build embeds it.
import { fileURLToPath } from "node:url";
import { STATIC_KV_FORMAT, StaticKv, type StaticKvImage } from "@atoll/kv";
import { captureDirectory } from "@atoll/kv/build";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";

export const SITE_DIR = fileURLToPath(new URL("../../site", import.meta.url));

const bytesOf = (v: string | Uint8Array) =>
  typeof v === "string" ? new TextEncoder().encode(v) : v;

export const digestOf = (v: string | Uint8Array) => bytesToHex(sha256(bytesOf(v)));

/** A static-store image holding `files` (keys like "/a/b.html"), all modified at `mtime` ms. */
export function imageOf(
  files: Record<string, string | Uint8Array>,
  mtime = 1_700_000_000_000,
): StaticKvImage {
  return {
    format: STATIC_KV_FORMAT,
    files: Object.entries(files).map(([key, value]) => {
      const bytes = bytesOf(value);
      return [key, mtime, digestOf(bytes), Buffer.from(bytes).toString("base64")] as const;
    }),
  };
}

export const storeOf = (files: Record<string, string | Uint8Array>, mtime?: number) =>
  new StaticKv(imageOf(files, mtime));

/** The site/ directory as the build embeds it. */
export async function siteImage(): Promise<StaticKvImage> {
  return (await captureDirectory(SITE_DIR, { mtime: 1_700_000_000_000 })).image;
}
