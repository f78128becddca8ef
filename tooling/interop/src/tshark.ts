// Reads a capture with Wireshark's tshark, every checksum check on, and
// returns one row per frame: the asked-for fields plus `bad`, which says why
// tshark objects to the frame (malformed, an expert error, a checksum that
// does not verify) or is empty.

import { execHost } from "./netns.js";

const CHECKS = [
  "-o",
  "ip.check_checksum:TRUE",
  "-o",
  "tcp.check_checksum:TRUE",
  "-o",
  "udp.check_checksum:TRUE",
];

const ALWAYS = [
  "frame.number",
  "frame.protocols",
  "_ws.malformed",
  "_ws.expert.severity",
  "ip.checksum.status",
  "tcp.checksum.status",
  "udp.checksum.status",
  "icmp.checksum.status",
];

/** PI_ERROR: malformed packets and bad checksums are expert errors. */
const PI_ERROR = 0x00800000;

export type TsharkRow = Record<string, string> & { readonly bad: string };

export async function tshark(file: string, fields: readonly string[] = []): Promise<TsharkRow[]> {
  const all = [...ALWAYS, ...fields];
  const run = await execHost(
    [
      "tshark",
      "-n",
      "-r",
      file,
      ...CHECKS,
      "-T",
      "fields",
      "-E",
      "separator=/t",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      ...all.flatMap((f) => ["-e", f]),
    ],
    { timeoutMs: 120_000 },
  );
  // A field unknown to this tshark version (bootp.* vs dhcp.*) is an error; retry without it.
  const unknown = /Some fields aren't valid:\s*([\s\S]*)/.exec(run.stderr);
  if (run.code !== 0 && unknown !== null) {
    const invalid = new Set(unknown[1]!.split(/\s+/).filter(Boolean));
    const kept = fields.filter((f) => !invalid.has(f));
    if (kept.length < fields.length) return tshark(file, kept);
  }
  if (run.code !== 0) throw new Error(`tshark failed (${run.code}): ${run.stderr}`);
  return run.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const values = line.split("\t");
      const row: Record<string, string> = Object.fromEntries(
        all.map((f, i) => [f, values[i] ?? ""]),
      );
      const list = (f: string) => (row[f] ?? "").split(",").filter((v) => v !== "");
      const reasons: string[] = [];
      if ((row["_ws.malformed"] ?? "") !== "") reasons.push("malformed");
      if (list("_ws.expert.severity").some((v) => Number(v) >= PI_ERROR))
        reasons.push("expert error");
      for (const p of ["ip", "tcp", "udp", "icmp"])
        if (list(`${p}.checksum.status`).includes("0")) reasons.push(`bad ${p} checksum`);
      return Object.assign(row, { bad: reasons.join(", ") }) as TsharkRow;
    });
}
