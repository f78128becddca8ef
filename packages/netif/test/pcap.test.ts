import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { VirtualTime } from "@atoll/clock";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryPcapSink, MemorySwitch, PcapNetif, PcapWriter } from "../src/index.js";
import { pcapFile } from "../src/node.js";
import {
  arpReply,
  arpRequest,
  checksum,
  type Endpoint,
  icmpEcho,
  ipv4,
  rawFrame,
  udpFrame,
} from "./frames.js";

const hasTshark = spawnSync("tshark", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasTshark)
  console.warn(
    "pcap tests: tshark is not installed (Debian package tshark); skipping the tshark checks",
  );

const dir = mkdtempSync(path.join(tmpdir(), "atoll-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Record {
  seconds: number;
  micros: number;
  captured: number;
  original: number;
  data: Uint8Array;
}

/** A small reader, independent of the writer, following the libpcap file format. */
function parsePcap(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = {
    magic: v.getUint32(0, true),
    major: v.getUint16(4, true),
    minor: v.getUint16(6, true),
    thiszone: v.getInt32(8, true),
    sigfigs: v.getUint32(12, true),
    snaplen: v.getUint32(16, true),
    linktype: v.getUint32(20, true),
  };
  const records: Record[] = [];
  let at = 24;
  while (at < bytes.length) {
    const captured = v.getUint32(at + 8, true);
    records.push({
      seconds: v.getUint32(at, true),
      micros: v.getUint32(at + 4, true),
      captured,
      original: v.getUint32(at + 12, true),
      data: bytes.slice(at + 16, at + 16 + captured),
    });
    at += 16 + captured;
  }
  expect(at).toBe(bytes.length);
  return { header, records };
}

describe("PcapWriter", () => {
  it("writes the libpcap file header and records byte for byte", async () => {
    const sink = new MemoryPcapSink();
    const writer = new PcapWriter(sink);
    const frame = rawFrame(new Uint8Array(6).fill(255), new Uint8Array([2, 0, 0, 0, 0, 1]), 7, 60);
    writer.record(frame, 1_700_000_000_123.456);
    await writer.close();
    const bytes = sink.bytes();
    // magic a1b2c3d4 little-endian, version 2.4, thiszone 0, sigfigs 0, snaplen 262144, LINKTYPE_ETHERNET
    expect([...bytes.subarray(0, 24)]).toEqual([
      0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0,
    ]);
    const v = new DataView(bytes.buffer, 24);
    expect(v.getUint32(0, true)).toBe(1_700_000_000);
    expect(v.getUint32(4, true)).toBe(123_456);
    expect(v.getUint32(8, true)).toBe(60);
    expect(v.getUint32(12, true)).toBe(60);
    expect([...bytes.subarray(40)]).toEqual([...frame]);
    expect(sink.closed).toBe(true);
  });

  it("truncates frames to the snapshot length and keeps their original length", async () => {
    const sink = new MemoryPcapSink();
    const writer = new PcapWriter(sink, { snapLength: 100 });
    writer.record(rawFrame(new Uint8Array(6), new Uint8Array(6), 1, 300), 0);
    await writer.close();
    const { header, records } = parsePcap(sink.bytes());
    expect(header.snaplen).toBe(100);
    expect(records[0]).toMatchObject({ captured: 100, original: 300 });
  });

  it("buffers records into large writes with the same result", async () => {
    const frames = Array.from({ length: 300 }, (_, i) =>
      rawFrame(new Uint8Array(6), new Uint8Array(6), i, 60 + i * 3),
    );
    const write = async (bufferBytes: number) => {
      const sink = new MemoryPcapSink();
      let writes = 0;
      const counting = {
        write: (b: Uint8Array) => {
          writes++;
          sink.write(b);
        },
        close: () => sink.close(),
      };
      const writer = new PcapWriter(counting, { bufferBytes });
      for (const [i, f] of frames.entries()) writer.record(f, 1000 + i);
      await writer.close();
      await writer.close();
      writer.record(frames[0]!, 0); // ignored after close
      return { bytes: sink.bytes(), writes };
    };
    const small = await write(256); // smaller than some records: those bypass the buffer
    const large = await write(1 << 20);
    expect(small.writes).toBeGreaterThan(10);
    expect(large.writes).toBe(1);
    expect(Buffer.from(small.bytes).equals(large.bytes)).toBe(true);
    const { records } = parsePcap(large.bytes);
    expect(records.map((r) => r.data.length)).toEqual(frames.map((f) => f.length));
  });
});

describe("PcapNetif", () => {
  it("records what it sends and receives, timestamped by the WallClock, and passes everything on", async () => {
    const world = new VirtualTime({ epochMs: Date.UTC(2024, 0, 1) });
    const sw = new MemorySwitch();
    const sink = new MemoryPcapSink();
    const a = new PcapNetif(sw.attach(), world.wallClock, { sink });
    const b = sw.attach();
    const atA: number[] = [];
    const atB: number[] = [];
    a.listen((f) => atA.push(f.length));
    b.listen((f) => atB.push(f.length));
    a.write(rawFrame(b.mac, a.mac, 1, 100));
    expect(a.write(rawFrame(b.mac, a.mac, 2, a.mtu + 15))).toBe(false); // refused: not recorded
    await world.advance(1.5e6); // 1.5 ms
    b.write(rawFrame(a.mac, b.mac, 3, 200));
    await world.advance(0);
    await a.disconnect();
    expect(atA).toEqual([200]);
    expect(atB).toEqual([100]);
    const { records } = parsePcap(sink.bytes());
    const epochSeconds = Date.UTC(2024, 0, 1) / 1000;
    expect(records.map((r) => [r.seconds - epochSeconds, r.micros, r.original])).toEqual([
      [0, 0, 100],
      [0, 1500, 200],
    ]);
    expect(a.stats).toMatchObject({ txPackets: 1, txErrors: 1, rxPackets: 1 });
  });

  it.skipIf(!hasTshark)(
    "writes a capture of ARP, ICMP and UDP traffic that tshark reads with no malformed or bad-checksum packets",
    async () => {
      const file = path.join(dir, "traffic.pcap");
      const sw = new MemorySwitch();
      const portA = sw.attach();
      const b = sw.attach();
      const hostA: Endpoint = { mac: portA.mac, ip: ipv4("10.0.0.1") };
      const hostB: Endpoint = { mac: b.mac, ip: ipv4("10.0.0.2") };
      const a = new PcapNetif(
        portA,
        { now: () => Date.now(), tzOffsetSeconds: () => 0 },
        {
          sink: pcapFile(file),
        },
      );
      // b answers like a host would: ARP replies, echo replies, UDP echo.
      b.listen((f) => {
        const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
        const type = v.getUint16(12);
        if (type === 0x0806 && v.getUint16(20) === 1) b.write(arpReply(hostB, hostA));
        if (type !== 0x0800) return;
        const protocol = f[23];
        const payload = f.slice(42);
        if (protocol === 1 && f[34] === 8)
          b.write(icmpEcho(hostB, hostA, 0, v.getUint16(38), v.getUint16(40), payload));
        if (protocol === 17)
          b.write(
            udpFrame(hostB, hostA, v.getUint16(36), v.getUint16(34), payload, v.getUint16(18)),
          );
      });
      let received = 0;
      a.listen(() => received++);
      a.write(arpRequest(hostA, hostB.ip));
      for (let i = 0; i < 10; i++) {
        a.write(icmpEcho(hostA, hostB, 8, 0x1234, i, new Uint8Array(56).fill(i)));
      }
      const sizes = [0, 1, 18, 100, 512, 1000, 1472];
      for (let i = 0; i < 30; i++) {
        const payload = new Uint8Array(sizes[i % sizes.length]!).map((_, j) => (i * 7 + j) & 0xff);
        a.write(udpFrame(hostA, hostB, 40000 + i, 7, payload, 0x200 + i));
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(received).toBe(41);
      await a.disconnect();
      // Sanity of the helper itself: a valid IPv4 header sums to zero.
      expect(checksum(udpFrame(hostA, hostB, 1, 2, new Uint8Array(3)), 14, 20)).toBe(0);
      expect(parsePcap(readFileSync(file)).records.length).toBe(82);

      const tshark = (...args: string[]) => {
        const r = spawnSync("tshark", ["-n", "-r", file, ...args], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        return r.stdout.split("\n").filter(Boolean);
      };
      const checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];
      expect(tshark(...checks, "-Y", "_ws.malformed || _ws.expert.severity >= warning")).toEqual(
        [],
      );
      // One line per frame: protocols and checksum verdicts (1 = good, 0 = bad).
      const fields = [
        "frame.protocols",
        "ip.checksum.status",
        "udp.checksum.status",
        "icmp.checksum.status",
      ];
      const rows = tshark(...checks, "-T", "fields", ...fields.flatMap((f) => ["-e", f])).map((l) =>
        l.split("\t"),
      );
      expect(rows.length).toBe(82);
      const count = (p: (r: string[]) => boolean) => rows.filter(p).length;
      expect(count((r) => r[0] === "eth:ethertype:arp")).toBe(2);
      expect(
        count((r) => r[0] === "eth:ethertype:ip:icmp:data" && r[1] === "1" && r[3] === "1"),
      ).toBe(20);
      expect(
        count((r) => r[0]!.startsWith("eth:ethertype:ip:udp") && r[1] === "1" && r[2] === "1"),
      ).toBe(60);

      // The checks can fail: one UDP datagram with a flipped payload bit is reported.
      const bad = path.join(dir, "bad.pcap");
      const writer = new PcapWriter(pcapFile(bad));
      const frame = udpFrame(hostA, hostB, 5000, 7, new Uint8Array(32).fill(1));
      frame[50]! ^= 0x10;
      writer.record(frame, Date.now());
      await writer.close();
      const checkBad = (...args: string[]) =>
        spawnSync("tshark", ["-n", "-r", bad, ...checks, ...args], { encoding: "utf8" })
          .stdout.split("\n")
          .filter(Boolean);
      expect(
        checkBad("-Y", "udp.checksum.status == 0 && _ws.expert.severity >= warning").length,
      ).toBe(1);
    },
  );
});
