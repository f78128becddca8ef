// Reading an image file on the host: parse the manifest, check the code's hash,
// and turn the ESM code into the script the vCPU evaluates. Nothing here
// executes the image.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { AtollError } from "@atoll/core";
import { isImageProblem, type ParsedImage, parseImage } from "../manifest.js";

/** The image cannot be used: not an image, corrupt, or built for a newer boundary ABI. */
export class ImageError extends AtollError {
  readonly path: string;
  constructor(code: "ATOLL_IMAGE_INVALID" | "ATOLL_IMAGE_ABI", path: string, message: string) {
    super(code, message);
    this.path = path;
  }
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Reads and checks an image file without executing it. */
export function loadImage(path: string): ParsedImage {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? "no such file"
        : String((error as Error).message);
    throw new ImageError("ATOLL_IMAGE_INVALID", path, `cannot read ${path}: ${reason}`);
  }
  return checkImage(path, text);
}

export function checkImage(path: string, text: string): ParsedImage {
  const parsed = parseImage(text);
  if (isImageProblem(parsed)) {
    throw new ImageError(
      parsed.kind === "newer-abi" ? "ATOLL_IMAGE_ABI" : "ATOLL_IMAGE_INVALID",
      path,
      `${path} is not a usable Atoll image: ${parsed.message}`,
    );
  }
  const { manifest, code } = parsed;
  if (Buffer.byteLength(code) !== manifest.code.bytes || sha256(code) !== manifest.code.sha256)
    throw new ImageError(
      "ATOLL_IMAGE_INVALID",
      path,
      `${path} is corrupt: its code does not match the SHA-256 in its manifest`,
    );
  if (toScript(code) === undefined)
    throw new ImageError(
      "ATOLL_IMAGE_INVALID",
      path,
      `${path} is corrupt: its code has no start function`,
    );
  return parsed;
}

const defaultExport = /export\s*\{\s*([A-Za-z_$][\w$]*)\s+as\s+default\s*\}\s*;?\s*$/;

/**
 * The image's ESM code as a script that leaves its default export (the start
 * function) at globalThis[Symbol.for("atoll.start")]. An image is one bundled
 * module whose only module syntax is that final export.
 */
export function toScript(code: string): string | undefined {
  const match = defaultExport.exec(code);
  if (match === null) return undefined;
  return `"use strict";globalThis[Symbol.for("atoll.start")]=(function(){"use strict";\n${code.slice(0, match.index)}\nreturn ${match[1]};})();`;
}
