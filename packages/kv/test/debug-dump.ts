import type { MemoryDisk } from "@atoll/block";
import {
  decodeSuperblock,
  RECORD_HEADER,
  readRecordHeader,
  recordChecksumOk,
} from "../src/log/format.js";

export function dumpLog(disk: MemoryDisk): string {
  const bytes = disk.toBytes();
  const S = disk.sectorSize;
  const out: string[] = [];
  const sbs = [0, 1].map((i) => decodeSuperblock(bytes.subarray(i * S, (i + 1) * S)));
  out.push(`sb: ${JSON.stringify(sbs)}`);
  for (const half of [0, 1]) {
    const sb = sbs.find((r) => r.kind === "valid");
    if (sb?.kind !== "valid") break;
    const start = (2 + half * sb.sb.halfSectors) * S;
    const halfBytes = sb.sb.halfSectors * S;
    out.push(`-- half ${half}`);
    // Every position that parses as a record with a good checksum.
    for (let p = 0; p + RECORD_HEADER <= halfBytes; p++) {
      const h = readRecordHeader(bytes.subarray(start + p, start + p + RECORD_HEADER));
      const len = RECORD_HEADER + h.keyLength + h.valueLength;
      if (h.type < 1 || h.type > 3 || p + len > halfBytes) continue;
      const rec = bytes.subarray(start + p, start + p + len);
      if (!recordChecksumOk(rec)) continue;
      const key = new TextDecoder().decode(
        rec.subarray(RECORD_HEADER, RECORD_HEADER + h.keyLength),
      );
      const extra =
        h.type === 3
          ? ` -> ${new TextDecoder().decode(rec.subarray(RECORD_HEADER + h.keyLength))}`
          : "";
      out.push(
        `${p}..${p + len} t${h.type} f${h.flags} e${h.epoch} b${h.batch} prev${h.prevEnd} ${key}${extra} (${h.valueLength}B)`,
      );
    }
  }
  return out.join("\n");
}
