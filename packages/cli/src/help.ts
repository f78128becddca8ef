// The application's `--help`, rendered by the tender from the image's manifest
// (the image carries no help text of its own): the application's arguments,
// then those of each driver sealed in the image, then the runtime's.

import type { Manifest, ManifestArg } from "./manifest.js";

const title = (owner: string) =>
  owner === "app"
    ? "Application"
    : owner === "runtime"
      ? "Runtime"
      : `Device "${owner.replace(/^device:/, "")}"`;

export function formatAppHelp(manifest: Manifest): string {
  const { name, description } = manifest;
  const lines = [
    description === undefined ? name : `${name} — ${description}`,
    "",
    `Usage: atoll run IMAGE [attachments] -- [--name=value ...]`,
  ];
  const sections = new Map<string, ManifestArg[]>();
  for (const a of manifest.args) {
    const list = sections.get(a.owner) ?? [];
    list.push(a);
    sections.set(a.owner, list);
  }
  for (const [owner, args] of sections) {
    lines.push("", `${title(owner)}:`);
    const rows = args.map((a) => {
      const left = `  --${a.flag}${a.metavar === "" ? "" : `=${a.metavar}`}`;
      const note = a.default !== undefined ? `default: ${a.default}` : a.required ? "required" : "";
      const doc = a.doc ?? "";
      return [left, note === "" ? doc : `${doc}${doc === "" ? "" : " "}(${note})`] as const;
    });
    const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
    for (const [left, right] of rows)
      lines.push(
        left.length >= width ? `${left}\n${" ".repeat(width)}${right}` : left.padEnd(width) + right,
      );
  }
  lines.push("", "Help:", "  --help  print this help and exit");
  return `${lines.join("\n")}\n`;
}

/** True when the application's arguments ask for help (`--help` or `-h` before a `--`). */
export function wantsAppHelp(argv: readonly string[]): boolean {
  for (const token of argv) {
    if (token === "--") return false;
    if (token === "--help" || token === "-h") return true;
  }
  return false;
}
