// @atoll/netif/node: host-side helpers. `pcapFile(path)` is a PcapSink that
// writes a capture file, opened on the first write and closed (flushed) when
// the recorder closes.

import { closeSync, openSync, writeSync } from "node:fs";
import type { PcapSink } from "./pcap.js";

export interface PcapFileSink extends PcapSink {
  readonly path: string;
  /** Bytes written to the file so far. */
  readonly written: number;
}

/**
 * A capture file at `path` (created or truncated on the first write). Writes
 * are synchronous: the recorder hands over 64 KiB at a time, so the cost is a
 * system call per 64 KiB, and nothing is lost if the process exits abruptly
 * after a flush.
 */
export function pcapFile(path: string): PcapFileSink {
  let fd: number | undefined;
  let written = 0;
  let closed = false;
  return {
    path,
    get written() {
      return written;
    },
    write(bytes: Uint8Array) {
      if (closed) return;
      fd ??= openSync(path, "w");
      let at = 0;
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
      written += bytes.length;
    },
    close() {
      if (closed) return;
      closed = true;
      // An empty capture still gets its file (the header arrives with the recorder's final flush).
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
