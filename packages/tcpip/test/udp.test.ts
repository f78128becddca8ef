import { isAtollError } from "@atoll/core";
import { afterEach, describe, expect, it } from "vitest";
import { IpProtocol } from "../src/wire/ipv4.js";
import { ip, ipProtocolOf, ipv4Frame, isIpv4, sameBytes, udpPayload } from "./support/frames.js";
import { type World, world } from "./support/stacks.js";

let w: World;
afterEach(async () => {
  await w?.close();
});

const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);

/** A UDP echo on `port`: replies from the port it was addressed to. */
function echo(stack: World["stacks"][number], port: number) {
  stack.udp.listen(port, (d) => {
    void stack.udp.send(d.srcAddress, d.srcPort, d.data.slice(), { srcPort: d.dstPort });
  });
}

describe("UDP", () => {
  it("echoes datagrams between two stacks, with addresses and ports", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    echo(b, 7);
    const got: Array<{
      src: string;
      srcPort: number;
      dst: string;
      dstPort: number;
      data: Uint8Array;
    }> = [];
    a.udp.listen(4000, (d) =>
      got.push({
        src: d.srcAddress,
        srcPort: d.srcPort,
        dst: d.dstAddress,
        dstPort: d.dstPort,
        data: d.data.slice(),
      }),
    );
    for (const size of [0, 1, 100, 1472]) {
      await w.run(a.udp.send("10.0.0.2", 7, bytes(size), { srcPort: 4000 }));
    }
    await w.time.advance(1e6);
    expect(got.map((g) => g.data)).toEqual([0, 1, 100, 1472].map((n) => bytes(n)));
    expect(got[0]).toMatchObject({ src: "10.0.0.2", srcPort: 7, dst: "10.0.0.1", dstPort: 4000 });
    expect(a.stats.udp.txDatagrams).toBe(4);
    expect(b.stats.udp.rxDatagrams).toBe(4);
    expect(a.stats.udp.rxDatagrams).toBe(4);
  });

  it("fragments a large datagram and reassembles it on the other side", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    echo(b, 7);
    let back: Uint8Array | undefined;
    a.udp.listen(4000, (d) => {
      back = d.data.slice();
    });
    const big = bytes(65507, 3);
    await w.run(a.udp.send("10.0.0.2", 7, big, { srcPort: 4000 }));
    await w.time.advance(1e6);
    expect(sameBytes(back, big)).toBe(true);
    expect(a.stats.ipv4.datagramsFragmented).toBe(1);
    expect(a.stats.ipv4.fragmentsSent).toBe(45);
    expect(b.stats.fragments.reassembled).toBe(1);
    expect(a.stats.fragments.reassembled).toBe(1);
    await expect(a.udp.send("10.0.0.2", 7, new Uint8Array(65508))).rejects.toThrow(RangeError);
  });

  it("takes the listened port as the default source port, else an ephemeral one", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    const ports: number[] = [];
    b.udp.listen(7, (d) => ports.push(d.srcPort));
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    a.udp.listen(5353, () => {});
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.time.advance(1e6);
    expect(ports[0]).toBeGreaterThanOrEqual(49152);
    expect(ports[1]).toBe(5353);
  });

  it("refuses a second listener on a port, and stops delivering after unlisten", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    let got = 0;
    b.udp.listen(7, () => got++);
    expect(() => b.udp.listen(7, () => {})).toThrow(
      expect.objectContaining({ code: "ATOLL_ADDRESS_IN_USE" }),
    );
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.time.advance(1e6);
    b.udp.unlisten(7);
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.time.advance(1e6);
    expect(got).toBe(1);
    expect(b.stats.udp.rxNoPort).toBe(1);
    b.udp.listen(7, () => got++);
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.time.advance(1e6);
    expect(got).toBe(2);
  });

  it("answers a datagram to a closed port with ICMP port unreachable", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    w.hub.recording = true;
    await w.run(a.udp.send("10.0.0.2", 9999, bytes(10), { srcPort: 1234 }));
    await w.time.advance(1e6);
    expect(b.stats.icmp.errorsSent).toBe(1);
    expect(a.stats.icmp.errorsReceived).toBe(1);
    const icmp = w.hub.log.find(
      (e) => e.from === w.ports[1] && isIpv4(e.frame) && ipProtocolOf(e.frame) === IpProtocol.ICMP,
    );
    const f = icmp!.frame;
    expect([f[34], f[35]]).toEqual([3, 3]);
    // It quotes our IP header and the UDP header.
    expect(f[42]).toBe(0x45);
    expect((f[42 + 20]! << 8) | f[42 + 21]!).toBe(1234);
    expect((f[42 + 22]! << 8) | f[42 + 23]!).toBe(9999);
  });

  it("limits the rate of ICMP errors", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24", { icmp: { errorsPerSecond: 10, errorBurst: 5 } });
    for (let i = 0; i < 50; i++) await w.run(a.udp.send("10.0.0.2", 9999, bytes(1)));
    await w.time.advance(1e6);
    expect(b.stats.icmp.errorsSent).toBe(5);
    expect(b.stats.icmp.errorsRateLimited).toBe(45);
    await w.time.advance(1e9);
    for (let i = 0; i < 50; i++) await w.run(a.udp.send("10.0.0.2", 9999, bytes(1)));
    await w.time.advance(1e6);
    expect(b.stats.icmp.errorsSent).toBe(10);
  });

  it("drops a datagram with a bad checksum or length, and accepts one without a checksum", async () => {
    w = world(1, { hub: true });
    const b = w.add("10.0.0.2/24");
    const port = w.ports[0]!;
    const got: Uint8Array[] = [];
    b.udp.listen(7, (d) => got.push(d.data.slice()));
    const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
    const frame = (payload: Uint8Array) =>
      ipv4Frame({
        srcMac: peer,
        dstMac: port.mac,
        src: "10.0.0.9",
        dst: "10.0.0.2",
        protocol: 17,
        payload,
      });
    const good = udpPayload("10.0.0.9", "10.0.0.2", 1000, 7, bytes(20));
    const corrupted = good.slice();
    corrupted[15]! ^= 0x40;
    const noChecksum = good.slice();
    noChecksum[6] = 0;
    noChecksum[7] = 0;
    noChecksum[15]! ^= 0x40;
    const badLength = good.slice();
    badLength[5] = 200;
    for (const p of [good, corrupted, noChecksum, badLength]) w.hub.inject(port, frame(p));
    await w.time.advance(1e6);
    expect(got).toHaveLength(2);
    expect(b.stats.udp.rxChecksumErrors).toBe(1);
    expect(b.stats.udp.rxLengthErrors).toBe(1);
    expect(b.stats.udp.rxDropped).toBe(2);
  });

  it("keeps working when a listener throws", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    let calls = 0;
    b.udp.listen(7, () => {
      calls++;
      throw new Error("boom");
    });
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.run(a.udp.send("10.0.0.2", 7, bytes(1)));
    await w.time.advance(1e6);
    expect(calls).toBe(2);
    expect(b.stats.udp.listenerErrors).toBe(2);
    expect(b.stats.internalErrors).toBe(0);
  });

  it("broadcasts to the subnet and to 255.255.255.255 without ARP, and gets no ICMP back", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    const c = w.add("10.0.0.3/24");
    const got: string[] = [];
    b.udp.listen(67, (d) => got.push(`b ${d.dstAddress}`));
    c.udp.listen(67, (d) => got.push(`c ${d.dstAddress}`));
    await w.time.advance(3e9);
    const arpBefore = a.stats.arp.requestsSent;
    await w.run(a.udp.send("255.255.255.255", 67, bytes(4)));
    await w.run(a.udp.send("10.0.0.255", 67, bytes(4)));
    await w.run(a.udp.send("10.0.0.255", 68, bytes(4)));
    await w.time.advance(1e6);
    expect(got.sort()).toEqual([
      "b 10.0.0.255",
      "b 255.255.255.255",
      "c 10.0.0.255",
      "c 255.255.255.255",
    ]);
    expect(a.stats.arp.requestsSent).toBe(arpBefore);
    expect(b.stats.icmp.errorsSent + c.stats.icmp.errorsSent).toBe(0);
  });

  it("routes off-subnet through the gateway, and fails without one", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { gateway: "10.0.0.254" });
    const b = w.add("10.0.0.2/24");
    w.add("10.0.0.254/24");
    w.hub.recording = true;
    await w.run(a.udp.send("192.0.2.1", 53, bytes(4)));
    await w.time.advance(1e6);
    const datagram = w.hub.log.find((e) => e.from === w.ports[0] && isIpv4(e.frame));
    expect(datagram!.frame.subarray(0, 6)).toEqual(w.ports[2]!.mac);
    expect(w.stacks[2]!.stats.ipv4.rxAddressErrors).toBe(1);
    const error = await b.udp.send("192.0.2.1", 53, bytes(4)).catch((e: unknown) => e);
    expect(isAtollError(error, "ATOLL_NET_UNREACHABLE")).toBe(true);
    expect(b.stats.ipv4.txNoRoute).toBe(1);
    expect(a.ipv4.config()).toEqual({
      address: "10.0.0.1",
      prefixLength: 24,
      gateway: "10.0.0.254",
    });
  });

  it("delivers datagrams to its own address and to 127.0.0.1 through loopback", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const got: string[] = [];
    a.udp.listen(7, (d) => got.push(`${d.srcAddress}>${d.dstAddress}`));
    await w.run(a.udp.send("10.0.0.1", 7, bytes(3)));
    await w.run(a.udp.send("127.0.0.1", 7, bytes(3)));
    await w.time.advance(0);
    expect(got).toEqual(["10.0.0.1>10.0.0.1", "127.0.0.1>127.0.0.1"]);
    expect(a.stats.ethernet.txFrames).toBe(1); // only the first gratuitous ARP left the host
  });

  it("rejects sends on a closed stack", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    await a.close();
    const error = await a.udp.send("10.0.0.2", 7, bytes(1)).catch((e: unknown) => e);
    expect(isAtollError(error, "ATOLL_DISCONNECTED")).toBe(true);
    expect(ip("10.0.0.1")).toBe(0x0a000001);
  });
});
