import { isAtollError } from "@atoll/core";
import { afterEach, describe, expect, it } from "vitest";
import { arpSenderIp, arpTargetIp } from "../src/wire/arp.js";
import { BROADCAST_MAC, formatMac } from "../src/wire/ethernet.js";
import { arpFrame, arpOp, ip, isArp } from "./support/frames.js";
import { type World, world } from "./support/stacks.js";

const data = new Uint8Array([1, 2, 3]);
let w: World;
afterEach(async () => {
  await w?.close();
});

const arpFrom = (w: World, index: number) =>
  w.hub.log.filter((e) => e.from === w.ports[index] && isArp(e.frame)).map((e) => e.frame);

describe("ARP", () => {
  it("announces the address twice at start, two seconds apart (gratuitous ARP)", async () => {
    w = world(1, { hub: true });
    w.hub.recording = true;
    w.add("10.0.0.1/24");
    await w.time.advance(0);
    expect(arpFrom(w, 0)).toHaveLength(1);
    await w.time.advance(2e9);
    const frames = arpFrom(w, 0);
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(arpOp(f)).toBe(1);
      expect(arpSenderIp(f, 14)).toBe(ip("10.0.0.1"));
      expect(arpTargetIp(f, 14)).toBe(ip("10.0.0.1"));
      expect(f.subarray(0, 6)).toEqual(BROADCAST_MAC);
    }
  });

  it("resolves a neighbour, then sends without asking again", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false });
    const b = w.add("10.0.0.2/24", { announce: false });
    const got: number[] = [];
    b.udp.listen(9, (d) => got.push(d.data.length));
    w.hub.recording = true;
    await w.run(a.udp.send("10.0.0.2", 9, data));
    await w.time.advance(1e6);
    await w.run(a.udp.send("10.0.0.2", 9, data));
    await w.time.advance(1e6);
    expect(got).toEqual([3, 3]);
    expect(arpFrom(w, 0)).toHaveLength(1);
    expect(arpOp(arpFrom(w, 0)[0]!)).toBe(1);
    expect(arpFrom(w, 1)).toHaveLength(1);
    expect(arpOp(arpFrom(w, 1)[0]!)).toBe(2);
    // B learned A from A's request, which was addressed to it: no request back.
    expect(b.interface.arp.entries().map((e) => e.ip)).toEqual([ip("10.0.0.1")]);
    expect(formatMac(a.interface.arp.lookup(ip("10.0.0.2"))!)).toBe(formatMac(w.ports[1]!.mac));
  });

  it("retries with exponential backoff, then gives up and fails the send", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false });
    w.hub.recording = true;
    const stamps: number[] = [];
    w.hub.filter = (_from, frame) => {
      if (isArp(frame)) stamps.push(w.time.now());
      return true;
    };
    const sent = a.udp.send("10.0.0.99", 9, data).catch((e: unknown) => e);
    const error = await w.run(sent);
    expect(isAtollError(error, "ATOLL_NET_UNREACHABLE")).toBe(true);
    expect(stamps).toEqual([0, 1e9, 3e9, 7e9]);
    expect(w.time.now()).toBe(15e9);
    expect(a.stats.arp.resolutionsFailed).toBe(1);
    expect(a.interface.arp.size).toBe(0);
  });

  it("expires entries, and refreshes those in use with a unicast request", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false, arp: { entryLifetimeNs: 60e9 } });
    const b = w.add("10.0.0.2/24", { announce: false });
    b.udp.listen(9, () => {});
    w.hub.recording = true;
    // Traffic every second for two minutes keeps the entry alive through refreshes.
    for (let i = 0; i < 120; i++) {
      await w.run(a.udp.send("10.0.0.2", 9, data));
      await w.time.advance(1e9);
    }
    const requests = arpFrom(w, 0).filter((f) => arpOp(f) === 1);
    const broadcast = requests.filter((f) => f[0] === 0xff);
    expect(broadcast).toHaveLength(1);
    expect(requests.length - broadcast.length).toBeGreaterThanOrEqual(2);
    // Idle for longer than the lifetime: the entry expires and the next send asks again.
    await w.time.advance(61e9);
    expect(a.interface.arp.lookup(ip("10.0.0.2"))).toBeUndefined();
    await w.run(a.udp.send("10.0.0.2", 9, data));
    const after = arpFrom(w, 0).filter((f) => arpOp(f) === 1 && f[0] === 0xff);
    expect(after).toHaveLength(2);
  });

  it("bounds the cache, evicting the oldest entries and failing their queued sends", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false, arp: { maxEntries: 8 } });
    const results = Array.from({ length: 20 }, (_, i) =>
      a.udp.send(`10.0.0.${100 + i}`, 9, data).then(
        () => "sent",
        (e: unknown) => (isAtollError(e, "ATOLL_NET_UNREACHABLE") ? "unreachable" : String(e)),
      ),
    );
    await w.time.advance(0);
    expect(a.interface.arp.size).toBe(8);
    expect(a.stats.arp.evictions).toBe(12);
    const outcomes = await w.run(Promise.all(results));
    expect(outcomes).toEqual(Array(20).fill("unreachable"));
    expect(a.interface.arp.size).toBe(0);
  });

  it("bounds the frames queued per unresolved address", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false, arp: { maxPendingPerAddress: 4 } });
    const b = w.add("10.0.0.2/24", { announce: false });
    let got = 0;
    b.udp.listen(9, () => got++);
    let replies = false;
    w.hub.filter = (_from, frame) => !(isArp(frame) && arpOp(frame) === 2 && !replies);
    for (let i = 0; i < 10; i++) void a.udp.send("10.0.0.2", 9, data);
    await w.time.advance(0);
    expect(a.interface.arp.entries()).toMatchObject([{ ip: ip("10.0.0.2"), pending: 4 }]);
    expect(a.stats.arp.pendingDropped).toBe(6);
    replies = true;
    await w.time.advance(1.5e9); // the retry gets an answer through
    expect(got).toBe(4);
    expect(a.interface.arp.pendingBytes).toBe(0);
  });

  it("answers requests for its own address and learns the asker", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false });
    const port = w.ports[0]!;
    const other = new Uint8Array([2, 9, 9, 9, 9, 9]);
    w.hub.recording = true;
    w.hub.inject(port, arpFrame(1, other, other, "10.0.0.7", new Uint8Array(6), "10.0.0.1"));
    await w.time.advance(0);
    const [reply] = arpFrom(w, 0);
    expect(reply).toBeDefined();
    expect(arpOp(reply!)).toBe(2);
    expect(reply!.subarray(0, 6)).toEqual(other);
    expect(reply!.subarray(22, 28)).toEqual(port.mac);
    expect(arpSenderIp(reply!, 14)).toBe(ip("10.0.0.1"));
    expect(arpTargetIp(reply!, 14)).toBe(ip("10.0.0.7"));
    expect(a.interface.arp.lookup(ip("10.0.0.7"))).toEqual(other);
  });

  it("does not learn from requests for other addresses, but updates what it knows", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false });
    const port = w.ports[0]!;
    const x = new Uint8Array([2, 9, 9, 9, 9, 1]);
    const x2 = new Uint8Array([2, 9, 9, 9, 9, 2]);
    w.hub.inject(port, arpFrame(1, x, x, "10.0.0.7", new Uint8Array(6), "10.0.0.8"));
    await w.time.advance(0);
    expect(a.interface.arp.size).toBe(0);
    w.hub.inject(port, arpFrame(1, x, x, "10.0.0.7", new Uint8Array(6), "10.0.0.1"));
    await w.time.advance(0);
    expect(a.interface.arp.lookup(ip("10.0.0.7"))).toEqual(x);
    // A gratuitous announcement of a new MAC updates the existing entry.
    w.hub.inject(port, arpFrame(1, x2, x2, "10.0.0.7", new Uint8Array(6), "10.0.0.7"));
    await w.time.advance(0);
    expect(a.interface.arp.lookup(ip("10.0.0.7"))).toEqual(x2);
  });

  it("counts conflicts and bogus packets, and learns nothing from them", async () => {
    w = world(1, { hub: true });
    const a = w.add("10.0.0.1/24", { announce: false });
    const port = w.ports[0]!;
    const x = new Uint8Array([2, 9, 9, 9, 9, 1]);
    w.hub.inject(port, arpFrame(2, x, x, "10.0.0.1", port.mac, "10.0.0.1", port.mac));
    w.hub.inject(port, arpFrame(1, x, BROADCAST_MAC, "10.0.0.9", new Uint8Array(6), "10.0.0.1"));
    w.hub.inject(port, arpFrame(1, x, port.mac, "10.0.0.9", new Uint8Array(6), "10.0.0.1"));
    const short = arpFrame(1, x, x, "10.0.0.9", new Uint8Array(6), "10.0.0.1").subarray(0, 40);
    w.hub.inject(port, short);
    await w.time.advance(0);
    expect(a.stats.arp.conflicts).toBe(1);
    expect(a.stats.arp.rxErrors).toBe(3);
    expect(a.interface.arp.size).toBe(0);
  });
});
