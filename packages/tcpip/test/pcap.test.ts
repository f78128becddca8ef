// A capture of real traffic between two direct stacks — ARP, pings (one
// fragmented), UDP (one fragmented), an ICMP port unreachable, a TCP echo of
// 1 MB with its handshake and teardown — read back by Wireshark's tshark with
// every checksum check on: it must find no malformed packet, no bad checksum
// and no expert error.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MemoryPcapSink } from "@atoll/netif";
import { describe, expect, it } from "vitest";
import { readAll } from "../src/conformance.js";
import { sameBytes } from "./support/frames.js";
import { world } from "./support/stacks.js";

const hasTshark = spawnSync("tshark", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasTshark) console.warn("pcap test skipped: tshark is not installed (Debian package tshark)");

const checks = [
  "-o",
  "ip.check_checksum:TRUE",
  "-o",
  "tcp.check_checksum:TRUE",
  "-o",
  "udp.check_checksum:TRUE",
];

function tshark(file: string, ...args: string[]): string {
  const run = spawnSync("tshark", ["-n", "-r", file, ...checks, ...args], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`tshark failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

describe("pcap of a test transfer", () => {
  it.skipIf(!hasTshark)(
    "is read by tshark without malformed packets or bad checksums",
    async () => {
      const w = world("pcap");
      const sink = new MemoryPcapSink();
      const a = w.add("10.0.0.1/24", { pcap: sink });
      const b = w.add("10.0.0.2/24");
      b.tcp.listen(7, (flow) => {
        void (async () => {
          for (;;) {
            const chunk = await flow.read();
            if (chunk === null) break;
            await flow.write(chunk);
          }
          await flow.close();
        })();
      });
      b.udp.listen(
        7,
        (d) => void b.udp.send(d.srcAddress, d.srcPort, d.data.slice(), { srcPort: 7 }),
      );
      a.udp.listen(4000, () => {});

      await w.run(a.icmp.ping("10.0.0.2"));
      await w.run(a.icmp.ping("10.0.0.2", { size: 4000 }));
      await w.run(a.udp.send("10.0.0.2", 7, new Uint8Array(100).fill(1), { srcPort: 4000 }));
      await w.run(a.udp.send("10.0.0.2", 7, new Uint8Array(5000).fill(2), { srcPort: 4000 }));
      await w.run(a.udp.send("10.0.0.2", 9999, new Uint8Array(10), { srcPort: 4000 }));
      const flow = await w.run(a.tcp.connect("10.0.0.2", 7));
      const data = new Uint8Array(1 << 20).map((_, i) => (i * 31) >> 3);
      const [back] = await w.run(
        Promise.all([readAll(flow), flow.write(data).then(() => flow.shutdown())]),
      );
      expect(sameBytes(back, data)).toBe(true);
      await w.run(flow.close());
      await w.time.advance(2e9);
      await w.close();

      const dir = mkdtempSync(path.join(tmpdir(), "atoll-pcap-"));
      try {
        const file = path.join(dir, "transfer.pcap");
        writeFileSync(file, sink.bytes());
        // One pass: the fields of every frame, checksum checks on.
        const fields = [
          "arp.opcode",
          "icmp.type",
          "icmp.code",
          "ip.flags.mf",
          "udp.srcport",
          "tcp.flags.syn",
          "tcp.flags.fin",
          "tcp.len",
          "_ws.malformed",
          "_ws.expert.severity",
          "ip.checksum.status",
          "tcp.checksum.status",
          "udp.checksum.status",
          "icmp.checksum.status",
        ];
        const rows = tshark(
          file,
          "-T",
          "fields",
          "-E",
          "separator=/t",
          ...fields.flatMap((f) => ["-e", f]),
        )
          .split("\n")
          .filter(Boolean)
          .map((line) => Object.fromEntries(line.split("\t").map((v, i) => [fields[i]!, v])));
        const count = (test: (r: Record<string, string>) => boolean) => rows.filter(test).length;
        // Everything we sent and received is there, decoded as what it is.
        expect(count((r) => r["arp.opcode"] !== "")).toBeGreaterThanOrEqual(2);
        expect(count((r) => r["icmp.type"] === "8")).toBe(2);
        expect(count((r) => r["icmp.type"] === "0")).toBe(2);
        expect(count((r) => r["icmp.type"] === "3" && r["icmp.code"] === "3")).toBe(1);
        expect(count((r) => r["ip.flags.mf"]!.split(",")[0] === "1")).toBeGreaterThanOrEqual(4);
        expect(count((r) => r["udp.srcport"] !== "")).toBeGreaterThanOrEqual(4);
        expect(count((r) => r["tcp.flags.syn"] === "1")).toBe(2);
        expect(count((r) => r["tcp.flags.fin"] === "1")).toBe(2);
        expect(count((r) => Number(r["tcp.len"]) > 0)).toBeGreaterThan(700);
        // And nothing is malformed, mis-checksummed (status 0 is Bad, 1 Good) or an
        // expert error (severity PI_ERROR, 0x00800000).
        const values = (r: Record<string, string>, f: string) =>
          r[f]!.split(",").filter((v) => v !== "");
        const bad = rows.filter(
          (r) =>
            r["_ws.malformed"] !== "" ||
            values(r, "_ws.expert.severity").some((v) => Number(v) >= 0x00800000) ||
            ["ip", "tcp", "udp", "icmp"].some((p) =>
              values(r, `${p}.checksum.status`).some((v) => v === "0"),
            ),
        );
        expect(count((r) => values(r, "tcp.checksum.status").includes("1"))).toBeGreaterThan(700);
        expect(count((r) => values(r, "udp.checksum.status").includes("1"))).toBeGreaterThanOrEqual(
          2,
        );
        expect(bad).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
