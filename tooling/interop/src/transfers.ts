// Bulk transfers between Linux and a unikernel over HTTP with curl: Linux
// downloads N bytes from the unikernel's responder and uploads a file of N
// random bytes to it — one after the other or both at once — and both ends
// hash what they sent and what they received.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Stack } from "@atoll/tcpip";
import { execHost, type Netns } from "./netns.js";
import { httpResponder, patternDigest, type Service } from "./services.js";
import { progress } from "./tools.js";

export interface RandomFile {
  readonly file: string;
  readonly bytes: number;
  readonly digest: string;
  remove(): void;
}

/** A file of `bytes` random bytes in a fresh temporary directory, and its SHA-256. */
export async function randomFile(bytes: number): Promise<RandomFile> {
  const dir = mkdtempSync(path.join(tmpdir(), "atoll-interop-"));
  const file = path.join(dir, "upload.bin");
  const made = await execHost(
    ["sh", "-c", `head -c ${bytes} /dev/urandom > "$0" && sha256sum "$0"`, file],
    { timeoutMs: 120_000 },
  );
  if (made.code !== 0) throw new Error(`could not create ${file}: ${made.stderr}`);
  return {
    file,
    bytes,
    digest: made.stdout.split(" ")[0]!,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface DirectionResult {
  readonly bytes: number;
  /** SHA-256 of what the sender sent. */
  readonly sent: string;
  /** SHA-256 of what the receiver got. */
  readonly received: string | undefined;
  readonly seconds: number;
  /** Upload only: the digest the unikernel reported back to curl. */
  readonly reported?: string;
}

export interface TransferOptions {
  readonly port?: number;
  readonly seed?: number;
  readonly timeoutMs?: number;
  /** Prefix of progress lines. */
  readonly label?: string;
}

/** An HTTP responder on the unikernel, and curl in the namespace as its client. */
export class CurlTransfers {
  readonly responder: Service;
  readonly #netns: Netns;
  readonly #url: string;
  readonly #seed: number;
  readonly #bytes: number;
  readonly #timeoutMs: number;
  readonly #label: string;

  constructor(
    netns: Netns,
    stack: Stack,
    address: string,
    bytes: number,
    options: TransferOptions = {},
  ) {
    const port = options.port ?? 80;
    this.#netns = netns;
    this.#url = `http://${address}:${port}/`;
    this.#seed = options.seed ?? 1;
    this.#bytes = bytes;
    this.#timeoutMs = options.timeoutMs ?? 300_000;
    this.#label = options.label ?? "";
    this.responder = httpResponder(stack, port, this.#seed, bytes);
  }

  /** Linux downloads the responder's bytes with curl and hashes them with sha256sum. */
  async download(): Promise<DirectionResult> {
    const mb = this.#bytes / 1e6;
    progress(`${this.#label}Linux downloads ${mb} MB from Atoll (curl)`);
    const t = performance.now();
    const seconds = Math.floor(this.#timeoutMs / 1000);
    const run = await this.#netns.exec(
      [
        "bash",
        "-o",
        "pipefail",
        "-c",
        `curl -sS --fail --max-time ${seconds} "$0" | sha256sum`,
        this.#url,
      ],
      { timeoutMs: this.#timeoutMs + 5000 },
    );
    const elapsed = (performance.now() - t) / 1000;
    if (run.code !== 0 || run.stderr !== "")
      throw new Error(`${this.#label}download failed: ${run.stderr}`);
    progress(
      `${this.#label}download done: ${(mb / elapsed).toFixed(1)} MB/s over ${elapsed.toFixed(1)} s`,
    );
    return {
      bytes: this.#bytes,
      sent: patternDigest(this.#seed, this.#bytes),
      received: run.stdout.split(" ")[0],
      seconds: elapsed,
    };
  }

  /** Linux uploads `file` with curl (PUT); the unikernel hashes the body and answers the digest. */
  async upload(file: RandomFile): Promise<DirectionResult> {
    const mb = file.bytes / 1e6;
    progress(`${this.#label}Linux uploads ${mb} MB to Atoll (curl -T)`);
    const before = new Set(this.responder.flows);
    const t = performance.now();
    const run = await this.#netns.exec(
      [
        "curl",
        "-sS",
        "--fail",
        "--max-time",
        String(Math.floor(this.#timeoutMs / 1000)),
        "-T",
        file.file,
        this.#url,
      ],
      { timeoutMs: this.#timeoutMs + 5000 },
    );
    const elapsed = (performance.now() - t) / 1000;
    if (run.code !== 0) throw new Error(`${this.#label}upload failed: ${run.stderr}`);
    progress(
      `${this.#label}upload done: ${(mb / elapsed).toFixed(1)} MB/s over ${elapsed.toFixed(1)} s`,
    );
    // The responder hashed the body before it answered: the digest is there once curl is done.
    const served = this.responder.flows.find((f) => !before.has(f) && f.digestIn !== undefined);
    return {
      bytes: file.bytes,
      sent: file.digest,
      received: served?.digestIn,
      reported: run.stdout.trim(),
      seconds: elapsed,
    };
  }

  close(): void {
    this.responder.close();
  }
}
