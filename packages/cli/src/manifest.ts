// The manifest an image carries and the image file format: a comment holding
// the manifest as JSON, then the code. Reading it never executes the image.
// Platform-neutral: the image runtime computes a manifest, the tools read one.

import { ABI_VERSION, slotKinds } from "./abi.js";

/** One runtime argument of the sealed application (or of a driver bound inside the image). */
export interface ManifestArg {
  /** The name on the command line, without `--`. */
  readonly flag: string;
  readonly aliases: readonly string[];
  /** `app`, `device:NAME` for a driver's argument, or `runtime`. */
  readonly owner: string;
  /** What the value looks like (`N`, `TEXT`); empty for a boolean flag. */
  readonly metavar: string;
  /** The expected form, as error messages word it. */
  readonly form: string;
  readonly doc?: string;
  /** The default, formatted as it would be given on the command line. */
  readonly default?: string;
  readonly required: boolean;
}

export interface Manifest {
  readonly format: "atoll.image";
  /** The boundary ABI the image speaks. */
  readonly abi: number;
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  /** Device slots in order: slot name → signature id. */
  readonly slots: Readonly<Record<string, string>>;
  readonly args: readonly ManifestArg[];
  /** The code that follows the manifest: its SHA-256 (hex) and size in bytes. */
  readonly code: { readonly sha256: string; readonly bytes: number };
  readonly built: { readonly by: string; readonly esbuild: string };
}

/** What the image's code says about itself at build time, before it has a code hash. */
export interface ImageDescription {
  /** The entry module's export that holds the image: "default" or a unikernel's name. */
  readonly export: string;
  readonly name: string;
  readonly description?: string;
  readonly slots: Readonly<Record<string, string>>;
  readonly args: readonly ManifestArg[];
}

const OPEN = "/*atoll-image\n";
const CLOSE = "\n*/\n";

/** Serialises an image: the manifest in a leading comment, then the code. */
export function formatImage(manifest: Manifest, code: string): string {
  // "*/" cannot appear in the comment; "\/" is a valid JSON escape for "/".
  const json = JSON.stringify(manifest).replaceAll("*/", "*\\/");
  return `${OPEN}${json}${CLOSE}${code}`;
}

export type ImageProblem =
  | { readonly kind: "not-an-image"; readonly message: string }
  | { readonly kind: "corrupt"; readonly message: string }
  | { readonly kind: "newer-abi"; readonly message: string; readonly abi: number };

export interface ParsedImage {
  readonly manifest: Manifest;
  readonly code: string;
}

/**
 * Splits an image file into its manifest and code and checks the manifest's
 * shape. The code hash is checked by the caller (hashing is host-specific).
 */
export function parseImage(text: string): ParsedImage | ImageProblem {
  if (!text.startsWith(OPEN))
    return { kind: "not-an-image", message: "it does not start with an Atoll image header" };
  const end = text.indexOf(CLOSE, OPEN.length);
  if (end < 0) return { kind: "corrupt", message: "its manifest is not terminated" };
  let manifest: unknown;
  try {
    manifest = JSON.parse(text.slice(OPEN.length, end));
  } catch {
    return { kind: "corrupt", message: "its manifest is not valid JSON" };
  }
  const problem = checkManifest(manifest);
  if (problem !== undefined) return problem;
  return { manifest: manifest as Manifest, code: text.slice(end + CLOSE.length) };
}

function checkManifest(value: unknown): ImageProblem | undefined {
  const corrupt = (what: string): ImageProblem => ({
    kind: "corrupt",
    message: `its manifest ${what}`,
  });
  if (typeof value !== "object" || value === null) return corrupt("is not an object");
  const m = value as Record<string, unknown>;
  if (m.format !== "atoll.image") return corrupt('has no "format": "atoll.image"');
  if (typeof m.abi !== "number" || !Number.isInteger(m.abi) || m.abi < 1)
    return corrupt("has no valid ABI version");
  if (m.abi > ABI_VERSION)
    return {
      kind: "newer-abi",
      abi: m.abi,
      message: `it was built for boundary ABI ${m.abi}, and this tender speaks ABI ${ABI_VERSION}: upgrade @atoll/cli`,
    };
  if (typeof m.name !== "string" || m.name === "") return corrupt("has no name");
  if (typeof m.version !== "string") return corrupt("has no version");
  if (typeof m.slots !== "object" || m.slots === null || Array.isArray(m.slots))
    return corrupt("has no slot table");
  for (const [name, id] of Object.entries(m.slots)) {
    if (!/^[A-Za-z_$][\w$-]*$/.test(name)) return corrupt(`names an invalid slot "${name}"`);
    if (typeof id !== "string") return corrupt(`gives slot "${name}" no signature`);
    if (slotKinds[id] === undefined)
      return {
        kind: "newer-abi",
        abi: m.abi,
        message: `its slot "${name}" needs ${id}, which this tender cannot serve (ABI ${ABI_VERSION}): upgrade @atoll/cli`,
      };
  }
  if (!Array.isArray(m.args) || m.args.some((a) => typeof a?.flag !== "string"))
    return corrupt("has no valid argument list");
  const code = m.code as Record<string, unknown> | undefined;
  if (typeof code?.sha256 !== "string" || typeof code.bytes !== "number")
    return corrupt("has no code hash");
  return undefined;
}

export function isImageProblem(value: ParsedImage | ImageProblem): value is ImageProblem {
  return "kind" in value;
}
