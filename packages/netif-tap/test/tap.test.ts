// The TAP driver on real devices: two TAP netifs bridged in a private network
// namespace. Needs Linux, root (CAP_NET_ADMIN), /dev/net/tun and iproute2.

import { spawnSync } from "node:child_process";
import { isAtollError } from "@atoll/core";
import { formatMac, parseMac } from "@atoll/netif";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openTap, TapBusyError, TapNameConflictError, TapNotAvailableError } from "../src/index.js";
import {
  collect,
  createSegment,
  ip,
  type Segment,
  settle,
  TEST_ETHERTYPE,
  tapSkipReason,
  testFrame,
  uniqueName,
  until,
  warnIfSkipped,
} from "./support/segment.js";

const skip = tapSkipReason !== undefined;
warnIfSkipped("TAP device tests");
const BROADCAST = new Uint8Array(6).fill(0xff);

describe.skipIf(skip)("frames through a bridge", () => {
  let segment: Segment;
  beforeAll(() => {
    segment = createSegment();
  });
  afterAll(() => segment?.close());

  it("carries frames both ways, of every size from the header alone to mtu + 14", async () => {
    const { a, b } = segment;
    expect(a.mtu).toBe(1500);
    const atA = collect(a);
    const atB = collect(b);
    const sizes = [14, 15, 60, 64, 100, 576, 1000, 1499, 1513, 1514];
    for (const [i, size] of sizes.entries()) {
      expect(a.write(testFrame(b.mac, a.mac, size, i))).toBe(true);
      expect(b.write(testFrame(a.mac, b.mac, size, 100 + i))).toBe(true);
    }
    await until(() => atA.length === sizes.length && atB.length === sizes.length, 3000, "frames");
    expect(atB.map((f) => f.length)).toEqual(sizes);
    expect(atA.map((f) => f.length)).toEqual(sizes);
    for (const [i, size] of sizes.entries()) {
      expect(atB[i]).toEqual(testFrame(b.mac, a.mac, size, i));
      expect(atA[i]).toEqual(testFrame(a.mac, b.mac, size, 100 + i));
    }
  });

  it("delivers a burst written in one turn, in order, and counts it", async () => {
    const { a, b } = segment;
    const before = { tx: { ...a.stats }, rx: { ...b.stats } };
    const atB = collect(b);
    const n = 200;
    for (let i = 0; i < n; i++) expect(a.write(testFrame(b.mac, a.mac, 60 + i, i))).toBe(true);
    await until(() => atB.length === n, 3000, "the burst");
    expect(atB.map((f) => new DataView(f.buffer).getUint32(14))).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    const bytes = n * 60 + (n * (n - 1)) / 2;
    expect(a.stats.txPackets - before.tx.txPackets).toBe(n);
    expect(a.stats.txBytes - before.tx.txBytes).toBe(bytes);
    expect(b.stats.rxPackets - before.rx.rxPackets).toBeGreaterThanOrEqual(n);
    expect(b.stats.rxBytes - before.rx.rxBytes).toBeGreaterThanOrEqual(bytes);
    expect(a.stats.txDropped).toBe(before.tx.txDropped);
  });

  it("copies a written frame before write returns", async () => {
    const { a, b } = segment;
    const atB = collect(b);
    const frame = testFrame(b.mac, a.mac, 64, 7);
    const expected = frame.slice();
    a.write(frame);
    frame.fill(0);
    await until(() => atB.length === 1, 3000, "the frame");
    expect(atB[0]).toEqual(expected);
  });

  it("never delivers synchronously with write", async () => {
    const { a, b } = segment;
    let inWrite = false;
    let duringWrite = 0;
    let received = 0;
    b.listen(() => {
      received++;
      if (inWrite) duringWrite++;
    });
    a.listen(() => {
      if (inWrite) duringWrite++;
    });
    for (let i = 0; i < 20; i++) {
      inWrite = true;
      a.write(testFrame(BROADCAST, a.mac, 60, i));
      b.write(testFrame(BROADCAST, b.mac, 60, i));
      inWrite = false;
      await settle(1);
    }
    await until(() => received >= 20, 3000, "broadcasts");
    expect(duringWrite).toBe(0);
  });

  it("refuses malformed frames as tx errors", () => {
    const { a } = segment;
    const errors = a.stats.txErrors;
    expect(a.write(new Uint8Array(13))).toBe(false);
    expect(a.write(new Uint8Array(0))).toBe(false);
    expect(a.write(new Uint8Array(a.mtu + 15))).toBe(false);
    expect(a.stats.txErrors - errors).toBe(3);
  });

  it("carries frames of random sizes and contents unchanged", async () => {
    const { a, b } = segment;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 14, max: 1514 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        async (sizes, seed) => {
          const atB = collect(b);
          const sent = sizes.map((size, i) => testFrame(b.mac, a.mac, size, seed + i));
          for (const frame of sent) a.write(frame);
          await until(() => atB.length === sent.length, 3000, "the frames");
          expect(atB).toEqual(sent);
        },
      ),
      { numRuns: 15, seed: 4242 },
    );
  });

  it("bounds the transmit queue and counts what it drops", async () => {
    const netif = openTap({ name: uniqueName("q"), txQueue: 16 });
    try {
      const frame = testFrame(BROADCAST, netif.mac, 60, 0);
      const accepted = Array.from({ length: 26 }, () => netif.write(frame));
      expect(accepted.filter((ok) => ok)).toHaveLength(16);
      expect(accepted.slice(16).every((ok) => !ok)).toBe(true);
      expect(netif.stats.txDropped).toBe(10);
      expect(netif.stats.txPackets).toBe(16);
      await settle(20);
      // The queue drained: the next turn accepts frames again.
      expect(netif.write(frame)).toBe(true);
    } finally {
      netif.close();
    }
  });
});

describe.skipIf(skip)("configuration", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it("sets the MTU on the interface and carries jumbo frames", async () => {
    const segment = createSegment({ a: { mtu: 9000 }, b: { mtu: 9000 } });
    cleanup.push(() => segment.close());
    const { a, b, netns } = segment;
    expect(a.mtu).toBe(9000);
    expect(ip("-netns", netns, "link", "show", a.name)).toMatch(/ mtu 9000 /);
    const atB = collect(b);
    const frame = testFrame(b.mac, a.mac, 9014, 1);
    expect(a.write(frame)).toBe(true);
    expect(a.write(new Uint8Array(9015))).toBe(false);
    await until(() => atB.length === 1, 3000, "the jumbo frame");
    expect(atB[0]).toEqual(frame);
  });

  it("drops received frames larger than its MTU, counting them", async () => {
    const segment = createSegment({ a: { mtu: 9000 }, b: { mtu: 1500 } });
    cleanup.push(() => segment.close());
    const { a, b, netns } = segment;
    // Linux now lets 9000-byte frames through to b, which was told 1500.
    ip("-netns", netns, "link", "set", b.name, "mtu", "9000");
    const atB = collect(b);
    const dropped = b.stats.rxDropped;
    a.write(testFrame(b.mac, a.mac, 4000, 1));
    a.write(testFrame(b.mac, a.mac, 1514, 2));
    await until(() => atB.length === 1, 3000, "the fitting frame");
    expect(atB[0]!.length).toBe(1514);
    expect(b.stats.rxDropped - dropped).toBe(1);
  });

  it("uses the MAC it is given, and sets the Linux side's MAC", () => {
    const mac = parseMac("02:00:5e:10:00:01")!;
    const hostMac = parseMac("02:00:5e:10:00:02")!;
    const netif = openTap({ name: uniqueName("m"), mac, hostMac });
    cleanup.push(() => netif.close());
    expect(netif.mac).toEqual(mac);
    expect(netif.hostMac).toEqual(hostMac);
    expect(ip("link", "show", netif.name)).toContain("link/ether 02:00:5e:10:00:02");
    expect(ip("link", "show", netif.name)).toMatch(/<[^>]*\bUP\b[^>]*>/);
  });

  it("makes up a locally administered unicast MAC, distinct from the Linux side's", () => {
    const netif = openTap({ name: uniqueName("r") });
    cleanup.push(() => netif.close());
    expect(netif.mac).toHaveLength(6);
    expect(netif.mac[0]! & 0x03).toBe(0x02);
    expect(formatMac(netif.mac)).not.toBe(formatMac(netif.hostMac));
    expect(netif.ifindex).toBeGreaterThan(0);
  });

  it("lets the kernel pick a name from a %d pattern", () => {
    const netif = openTap({ name: `at${process.pid % 10000}x%d` });
    cleanup.push(() => netif.close());
    expect(netif.name).toMatch(new RegExp(`^at${process.pid % 10000}x\\d+$`));
    expect(ip("link", "show", netif.name)).toContain(netif.name);
  });

  it("refuses a MAC equal to the Linux side's", () => {
    const hostMac = parseMac("02:00:5e:10:00:09")!;
    const name = uniqueName("e");
    expect(() => openTap({ name, mac: hostMac, hostMac })).toThrow(/Linux side/);
    // The descriptor was closed: the name is free again.
    const netif = openTap({ name });
    cleanup.push(() => netif.close());
  });
});

describe.skipIf(skip)("errors", () => {
  it("reports a device opened twice as busy", () => {
    const name = uniqueName("b");
    const first = openTap({ name });
    try {
      let error: unknown;
      try {
        openTap({ name });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TapBusyError);
      expect(isAtollError(error, "ATOLL_TAP_BUSY")).toBe(true);
      expect((error as TapBusyError).device).toBe(name);
      expect((error as TapBusyError).errno).toBe("EBUSY");
      expect((error as Error).message).toContain(name);
    } finally {
      first.close();
    }
    // Once closed, the name can be opened again.
    openTap({ name }).close();
  });

  it("reports a name taken by another kind of interface", () => {
    expect(() => openTap({ name: "lo" })).toThrow(TapNameConflictError);
    try {
      openTap({ name: "lo" });
    } catch (error) {
      expect(isAtollError(error, "ATOLL_TAP_NAME_CONFLICT")).toBe(true);
    }
  });

  it("reports a missing clone device", () => {
    let error: unknown;
    try {
      openTap({ name: uniqueName("n"), clonePath: "/nonexistent/net/tun" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TapNotAvailableError);
    expect(isAtollError(error, "ATOLL_TAP_NO_DEVICE")).toBe(true);
    expect((error as Error).message).toMatch(/modprobe tun/);
  });
});

describe.skipIf(skip)("robustness", () => {
  it("survives writes, listens and closes after close", async () => {
    const netif = openTap({ name: uniqueName("c") });
    const frame = testFrame(BROADCAST, netif.mac, 60, 0);
    expect(netif.write(frame)).toBe(true);
    netif.close();
    expect(netif.up).toBe(false);
    const dropped = netif.stats.txDropped;
    expect(netif.write(frame)).toBe(false);
    expect(netif.stats.txDropped).toBe(dropped + 1);
    netif.listen(() => {});
    netif.close();
    await settle(20);
    // The device went away with its descriptor.
    expect(spawnSync("ip", ["link", "show", netif.name]).status).not.toBe(0);
  });

  it("sends what was queued in the same turn before closing", async () => {
    const segment = createSegment();
    try {
      const { a, b } = segment;
      const atB = collect(b);
      for (let i = 0; i < 5; i++) a.write(testFrame(b.mac, a.mac, 60, i));
      a.close();
      await until(() => atB.length === 5, 3000, "frames written just before close");
    } finally {
      segment.close();
    }
  });

  it("keeps going when a listener throws", async () => {
    const segment = createSegment();
    try {
      const { a, b } = segment;
      let calls = 0;
      b.listen((frame) => {
        if (((frame[12]! << 8) | frame[13]!) !== TEST_ETHERTYPE) return;
        calls++;
        throw new Error("listener bug");
      });
      a.write(testFrame(b.mac, a.mac, 60, 1));
      a.write(testFrame(b.mac, a.mac, 60, 2));
      await until(() => calls === 2, 3000, "both frames despite the throwing listener");
      const atB = collect(b);
      a.write(testFrame(b.mac, a.mac, 60, 3));
      await until(() => atB.length === 1, 3000, "a frame after the throws");
    } finally {
      segment.close();
    }
  });

  it("goes down, without crashing, when its interface is deleted under it", async () => {
    const netif = openTap({ name: uniqueName("d") });
    try {
      ip("link", "del", netif.name);
      await until(() => !netif.up, 3000, "the link to go down");
      expect(netif.write(testFrame(BROADCAST, netif.mac, 60, 0))).toBe(false);
    } finally {
      netif.close();
    }
  });

  it("stops delivering when closed by its own listener mid-batch", async () => {
    const segment = createSegment();
    try {
      const { a, b } = segment;
      let seen = 0;
      b.listen((frame) => {
        if (((frame[12]! << 8) | frame[13]!) !== TEST_ETHERTYPE) return;
        seen++;
        b.close();
      });
      for (let i = 0; i < 10; i++) a.write(testFrame(b.mac, a.mac, 60, i));
      await until(() => seen === 1, 3000, "the first frame");
      await settle(50);
      expect(seen).toBe(1);
    } finally {
      segment.close();
    }
  });
});
