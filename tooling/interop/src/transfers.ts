// Bulk transfers between Linux and a unikernel over HTTP with curl: Linux
// downloads N bytes from the unikernel's responder and uploads a file of N
// random bytes to it; both ends hash what they sent and received.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Stack } from "@atoll/tcpip";
import { execHost, type Netns } from "./netns.js";
import { httpResponder, patternDigest } from "./services.js";
import { progress } from "./tools.js";

export interface TransferResult {
  readonly bytes: number;
  /** SHA-256 of what was sent, and of what arrived, on each end. */
  readonly downloadSent: string;
  readonly downloadReceived: string;
  readonly uploadSent: string;
  readonly uploadReceived: string | undefined;
  /** Linux's view of the upload's digest (the response body the unikernel sent). */
  readonly uploadReported: string;
  readonly downloadSeconds: number;
  readonly uploadSeconds: number;
}

/** A file of `bytes` random bytes in a fresh temporary directory, and its SHA-256. */
export async function randomFile(
  bytes: number,
): Promise<{ file: string; digest: string; remove(): void }> {
  const dir = mkdtempSync(path.join(tmpdir(), "atoll-interop-"));
  const file = path.join(dir, "upload.bin");
  const made = await execHost([
    "sh",
    "-c",
    `head -c ${bytes} /dev/urandom > "$0" && sha256sum "$0"`,
    file,
  ]);
  if (made.code !== 0) throw new Error(`could not create ${file}: ${made.stderr}`);
  return {
    file,
    digest: made.stdout.split(" ")[0]!,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Linux (in `netns`) downloads `bytes` from an HTTP responder the unikernel
 * runs on `port` at `address`, then uploads as many random bytes to it.
 */
export async function curlTransfers(
  netns: Netns,
  stack: Stack,
  address: string,
  bytes: number,
  options: { port?: number; seed?: number; timeoutMs?: number; label?: string } = {},
): Promise<TransferResult> {
  const port = options.port ?? 80;
  const seed = options.seed ?? 1;
  const timeoutMs = options.timeoutMs ?? 150_000;
  const label = options.label ?? "";
  const responder = httpResponder(stack, port, seed, bytes);
  const upload = await randomFile(bytes);
  try {
    const url = `http://${address}:${port}/`;
    progress(`${label}Linux downloads ${bytes / 1e6} MB from Atoll with curl`);
    let t = performance.now();
    const down = await netns.exec(
      [
        "sh",
        "-c",
        `curl -sS --fail --max-time ${Math.floor(timeoutMs / 1000)} "$0" | sha256sum`,
        url,
      ],
      { timeoutMs },
    );
    const downloadSeconds = (performance.now() - t) / 1000;
    if (down.code !== 0 || down.stderr !== "") throw new Error(`download failed: ${down.stderr}`);
    progress(
      `${label}  ${(bytes / 1e6 / downloadSeconds).toFixed(1)} MB/s; uploading ${bytes / 1e6} MB`,
    );
    t = performance.now();
    const up = await netns.exec(
      [
        "curl",
        "-sS",
        "--fail",
        "--max-time",
        String(Math.floor(timeoutMs / 1000)),
        "-T",
        upload.file,
        url,
      ],
      { timeoutMs },
    );
    const uploadSeconds = (performance.now() - t) / 1000;
    if (up.code !== 0) throw new Error(`upload failed: ${up.stderr}`);
    progress(`${label}  ${(bytes / 1e6 / uploadSeconds).toFixed(1)} MB/s`);
    const served = await responder.ended(2);
    const put = served.find((f) => f.bytesIn > 0 || f.digestIn !== undefined);
    return {
      bytes,
      downloadSent: patternDigest(seed, bytes),
      downloadReceived: down.stdout.split(" ")[0]!,
      uploadSent: upload.digest,
      uploadReceived: put?.digestIn,
      uploadReported: up.stdout.trim(),
      downloadSeconds,
      uploadSeconds,
    };
  } finally {
    responder.close();
    upload.remove();
  }
}
