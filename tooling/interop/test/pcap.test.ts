// A capture of a whole session between Linux and Atoll, recorded by the
// pcap wrapper on the unikernel's TAP device — ARP, pings both ways (one
// fragmented), UDP, a refused connection, a TCP echo and a 5 MB download —
// read back by tshark with every checksum check on: every frame decodes,
// nothing is malformed, no checksum is wrong.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MemoryPcapSink, PcapWriter } from "@atoll/netif";
import { afterEach, describe, expect, it } from "vitest";
import {
  createWorld,
  httpResponder,
  patternDigest,
  progress,
  skipReason,
  tcpEcho,
  udpEcho,
  type World,
} from "../src/index.js";
import { tshark } from "../src/tshark.js";

let world: World | undefined;
let dir: string | undefined;
afterEach(async () => {
  await world?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  world = undefined;
  dir = undefined;
});

describe("a pcap of a session", () => {
  it.skipIf(
    skipReason("the pcap of a session", "tshark", "ping", "socat", "nc", "curl") !== undefined,
  )("is read by tshark with no malformed packets and no checksum errors", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "atoll-interop-pcap-"));
    const capture = path.join(dir, "session.pcap");
    world = await createWorld({ pcap: capture });
    const w = world;
    progress("pcap: a session of ARP, ICMP, UDP and TCP");
    tcpEcho(w.stack, 7);
    udpEcho(w.stack, 7);
    const bytes = 5_000_000;
    httpResponder(w.stack, 80, 3, bytes);
    await w.netns.run(["ping", "-c", "3", "-i", "0.05", "10.77.0.2"]);
    await w.netns.run(["ping", "-c", "2", "-i", "0.05", "-s", "3000", "10.77.0.2"]);
    await w.stack.icmp.ping("10.77.0.1", { timeoutNs: 2e9 });
    await w.stack.icmp.ping("10.77.0.1", { size: 3000, timeoutNs: 2e9 });
    expect(
      await w.netns.run(["socat", "-t", "0.5", "-", "UDP:10.77.0.2:7"], { input: "datagram\n" }),
    ).toBe("datagram\n");
    // A datagram to a closed port: ICMP port unreachable back.
    await w.netns.exec(["socat", "-t", "0.3", "-", "UDP:10.77.0.2:9"], { input: "nobody\n" });
    await w.stack.tcp.connect("10.77.0.1", 9999, { timeoutNs: 2e9 }).catch(() => {});
    expect(await w.netns.run(["nc", "-N", "10.77.0.2", "7"], { input: "stream\n" })).toBe(
      "stream\n",
    );
    const down = await w.netns.run(["sh", "-c", "curl -sS http://10.77.0.2/ | sha256sum"]);
    expect(down.split(" ")[0]).toBe(patternDigest(3, bytes));
    await new Promise((r) => setTimeout(r, 200));
    await w.close();
    world = undefined;

    progress("pcap: tshark reads it");
    const rows = await tshark(capture, [
      "arp.opcode",
      "icmp.type",
      "icmp.code",
      "ip.flags.mf",
      "udp.srcport",
      "tcp.flags.syn",
      "tcp.flags.reset",
      "tcp.len",
    ]);
    const count = (test: (r: Record<string, string>) => boolean) =>
      rows.filter((row) => test(new Proxy(row, { get: (t, k: string) => t[k] ?? "" }))).length;
    expect(count((r) => r["arp.opcode"] === "1")).toBeGreaterThanOrEqual(1);
    expect(count((r) => r["arp.opcode"] === "2")).toBeGreaterThanOrEqual(1);
    expect(count((r) => r["icmp.type"] === "8")).toBeGreaterThanOrEqual(7);
    expect(count((r) => r["icmp.type"] === "0")).toBeGreaterThanOrEqual(7);
    expect(
      count((r) => r["icmp.type"]!.startsWith("3") && r["icmp.code"]!.startsWith("3")),
    ).toBeGreaterThanOrEqual(1);
    expect(count((r) => r["ip.flags.mf"]!.split(",")[0] === "1")).toBeGreaterThanOrEqual(4);
    expect(count((r) => r["udp.srcport"] !== "")).toBeGreaterThanOrEqual(2);
    expect(count((r) => r["tcp.flags.syn"] === "1")).toBeGreaterThanOrEqual(5);
    expect(count((r) => r["tcp.flags.reset"] === "1")).toBeGreaterThanOrEqual(1);
    expect(count((r) => Number(r["tcp.len"]) > 0)).toBeGreaterThan(bytes / 1460);
    expect(count((r) => r["tcp.checksum.status"]!.split(",").includes("1"))).toBeGreaterThan(
      bytes / 1460,
    );
    const bad = rows.filter((r) => r.bad !== "");
    expect(bad.map((r) => `#${r["frame.number"]} ${r["frame.protocols"]}: ${r.bad}`)).toEqual([]);
  });

  it.skipIf(skipReason("the tshark check", "tshark") !== undefined)(
    "would notice a bad checksum and a malformed frame (the check can fail)",
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), "atoll-interop-pcap-"));
      const file = path.join(dir, "bad.pcap");
      const sink = new MemoryPcapSink();
      const writer = new PcapWriter(sink);
      // Ethernet + IPv4 + UDP 10.0.0.1:1000 -> 10.0.0.2:7, 4 bytes, with a wrong UDP checksum.
      const hex =
        "020000000002020000000001080045000020000100004011" +
        "66ca0a0000010a00000203e80007000cc0de" +
        "61626364";
      const frame = Uint8Array.from(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
      writer.record(frame, 0);
      // An IPv4 header claiming more bytes than the frame holds.
      const truncated = frame.slice(0, 30);
      writer.record(truncated, 1);
      await writer.close();
      writeFileSync(file, sink.bytes());
      const rows = await tshark(file);
      expect(rows).toHaveLength(2);
      expect(rows[0]!.bad).toBe("expert error, bad udp checksum");
      expect(rows[1]!.bad).not.toBe("");
    },
  );
});
