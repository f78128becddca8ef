import { createUnikernel, isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import {
  BROADCAST_MAC,
  formatMac,
  isLocalMac,
  isMulticastMac,
  type MemoryPort,
  MemorySwitch,
  Netif,
} from "../src/index.js";
import { mac, rawFrame, seqOf } from "./frames.js";

/** Records the sequence numbers each port receives. */
function record(...ports: MemoryPort[]) {
  const seen = ports.map(() => [] as number[]);
  ports.forEach((p, i) => {
    p.listen((f) => seen[i]!.push(seqOf(f)));
  });
  return seen;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("MemorySwitch", () => {
  it("derives deterministic, locally administered unicast MACs from the switch id and port index", () => {
    const sw = new MemorySwitch({ id: 0x1234 });
    const a = sw.attach();
    const b = sw.attach();
    expect(formatMac(a.mac)).toBe("02:a7:12:34:00:01");
    expect(formatMac(b.mac)).toBe("02:a7:12:34:00:02");
    expect(isLocalMac(a.mac) && !isMulticastMac(a.mac)).toBe(true);
    const again = new MemorySwitch({ id: 0x1234 }).attach();
    expect(formatMac(again.mac)).toBe(formatMac(a.mac));
    const other = new MemorySwitch();
    expect(formatMac(other.attach().mac)).not.toBe(formatMac(new MemorySwitch().attach().mac));
    expect(formatMac(sw.attach({ mac: "52:54:00:12:34:56" }).mac)).toBe("52:54:00:12:34:56");
  });

  it("rejects bad options with ATOLL_NETIF_INVALID_OPTION", () => {
    const sw = new MemorySwitch();
    for (const bad of [
      () => sw.attach({ mac: "01:00:5e:00:00:01" }),
      () => sw.attach({ mac: "zz" }),
      () => sw.attach({ mac: new Uint8Array(5) }),
      () => sw.attach({ mtu: 67 }),
      () => sw.attach({ mtu: 65536 }),
      () => sw.attach({ queueLength: 0 }),
      () => sw.attach({ queueBytes: 100 }),
      () => new MemorySwitch({ id: -1 }),
    ]) {
      expect(bad).toThrow();
      try {
        bad();
      } catch (error) {
        expect(isAtollError(error, "ATOLL_NETIF_INVALID_OPTION")).toBe(true);
      }
    }
  });

  it("floods unknown unicast, then learns and forwards to one port only", async () => {
    const sw = new MemorySwitch();
    const [a, b, c] = [sw.attach(), sw.attach(), sw.attach()];
    const [atA, atB, atC] = record(a, b, c);
    a.write(rawFrame(b.mac, a.mac, 1)); // b unknown: flooded to b and c
    await tick();
    expect(atB).toEqual([1]);
    expect(atC).toEqual([1]);
    b.write(rawFrame(a.mac, b.mac, 2)); // a was learned: only a
    await tick();
    expect(atA).toEqual([2]);
    expect(atC).toEqual([1]);
    a.write(rawFrame(b.mac, a.mac, 3)); // b now learned too
    await tick();
    expect(atB).toEqual([1, 3]);
    expect(atC).toEqual([1]);
    expect(sw.macTable()).toEqual(
      new Map([
        [formatMac(a.mac), a.index],
        [formatMac(b.mac), b.index],
      ]),
    );
    expect(sw.stats).toMatchObject({ flooded: 1, forwarded: 2, learned: 2 });
  });

  it("floods broadcast and multicast to every port but the ingress one", async () => {
    const sw = new MemorySwitch();
    const ports = Array.from({ length: 50 }, () => sw.attach());
    const seen = record(...ports);
    ports[7]!.write(rawFrame(BROADCAST_MAC, ports[7]!.mac, 1));
    ports[7]!.write(rawFrame(mac(0x01, 0x00, 0x5e, 0, 0, 0xfb), ports[7]!.mac, 2));
    ports[7]!.write(rawFrame(mac(0x33, 0x33, 0, 0, 0, 1), ports[7]!.mac, 3));
    await tick();
    seen.forEach((s, i) => {
      expect(s).toEqual(i === 7 ? [] : [1, 2, 3]);
    });
  });

  it("never sends a frame back out its ingress port, and filters frames for its own segment", async () => {
    const sw = new MemorySwitch();
    const [a, b] = [sw.attach(), sw.attach()];
    const [atA, atB] = record(a, b);
    const behindA = mac(0x02, 0, 0, 0, 0, 0x99);
    a.write(rawFrame(BROADCAST_MAC, behindA, 1)); // learns behindA on a's port
    a.write(rawFrame(behindA, a.mac, 2)); // for a host on a's own segment: filtered
    a.write(rawFrame(a.mac, a.mac, 3)); // to itself: filtered too
    await tick();
    expect(atA).toEqual([]);
    expect(atB).toEqual([1]);
    expect(sw.stats.filtered).toBe(2);
  });

  it("follows an address that moves to another port", async () => {
    const sw = new MemorySwitch();
    const [a, b, c] = [sw.attach(), sw.attach(), sw.attach()];
    const [, atB, atC] = record(a, b, c);
    const roaming = mac(0x02, 0, 0, 0, 0, 0x42);
    b.write(rawFrame(BROADCAST_MAC, roaming, 1));
    a.write(rawFrame(roaming, a.mac, 2));
    await tick();
    c.write(rawFrame(BROADCAST_MAC, roaming, 3)); // roaming now behind c
    a.write(rawFrame(roaming, a.mac, 4));
    await tick();
    expect(atB).toEqual([2, 3]);
    expect(atC).toEqual([1, 4]);
    expect(sw.macTable().get(formatMac(roaming))).toBe(c.index);
    expect(sw.stats.moved).toBe(1);
  });

  it("does not learn group source addresses", () => {
    const sw = new MemorySwitch();
    const a = sw.attach();
    a.write(rawFrame(BROADCAST_MAC, BROADCAST_MAC, 1));
    a.write(rawFrame(BROADCAST_MAC, mac(0x01, 0, 0x5e, 0, 0, 1), 2));
    expect(sw.macTable().size).toBe(0);
  });

  it("bounds its MAC table, evicting the oldest address", () => {
    const sw = new MemorySwitch({ maxMacs: 16 });
    const a = sw.attach();
    for (let i = 0; i < 100; i++) a.write(rawFrame(BROADCAST_MAC, mac(2, 0, 0, 0, i >> 8, i), i));
    const table = sw.macTable();
    expect(table.size).toBe(16);
    expect([...table.keys()][0]).toBe("02:00:00:00:00:54"); // 84..99 remain
    expect(sw.stats.evicted).toBe(84);
  });

  it("delivers asynchronously, one batch per microtask, and frames sent from a listener in a later batch", async () => {
    const sw = new MemorySwitch();
    const [a, b] = [sw.attach(), sw.attach()];
    const log: string[] = [];
    b.listen((f) => {
      log.push(`b${seqOf(f)}`);
      if (seqOf(f) === 0) b.write(rawFrame(a.mac, b.mac, 100));
    });
    a.listen((f) => log.push(`a${seqOf(f)}`));
    for (let i = 0; i < 3; i++) a.write(rawFrame(b.mac, a.mac, i));
    expect(log).toEqual([]);
    queueMicrotask(() => log.push("microtask"));
    await tick();
    // The first batch (b0..b2) runs before a microtask queued after the writes;
    // the reply is delivered in its own, later batch.
    expect(log).toEqual(["b0", "b1", "b2", "microtask", "a100"]);
  });

  it("bounds each receive queue in frames, counting drops at the egress port", async () => {
    const sw = new MemorySwitch({ queueLength: 8 });
    const [a, b] = [sw.attach(), sw.attach()];
    b.write(rawFrame(a.mac, b.mac, 0)); // learn b
    const [atB] = record(b);
    const results = Array.from({ length: 20 }, (_, i) => a.write(rawFrame(b.mac, a.mac, i)));
    expect(results).toEqual([...Array(8).fill(true), ...Array(12).fill(false)]);
    await tick();
    expect(atB).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(b.stats.rxDropped).toBe(12);
    expect(sw.stats.dropped).toBe(12);
    expect(a.stats.txPackets).toBe(20);
    // The queue drains: there is room again.
    expect(a.write(rawFrame(b.mac, a.mac, 99))).toBe(true);
    await tick();
    expect(atB!.at(-1)).toBe(99);
  });

  it("bounds each receive queue in bytes", async () => {
    const sw = new MemorySwitch();
    const a = sw.attach();
    const b = sw.attach({ queueBytes: 4000 });
    const [atB] = record(b);
    for (let i = 0; i < 5; i++) a.write(rawFrame(b.mac, a.mac, i, 1514));
    await tick();
    expect(atB).toEqual([0, 1]);
    expect(b.stats.rxDropped).toBe(3);
  });

  it("drops frames larger than the egress port's MTU", async () => {
    const sw = new MemorySwitch();
    const a = sw.attach({ mtu: 9000 });
    const b = sw.attach({ mtu: 1500 });
    const [atB] = record(b);
    a.write(rawFrame(b.mac, a.mac, 1, 9014));
    a.write(rawFrame(b.mac, a.mac, 2, 1514));
    await tick();
    expect(atB).toEqual([2]);
    expect(b.stats.rxDropped).toBe(1);
  });

  it("counts frames that arrive with no listener as dropped", async () => {
    const sw = new MemorySwitch();
    const [a, b] = [sw.attach(), sw.attach()];
    a.write(rawFrame(b.mac, a.mac, 1));
    await tick();
    expect(b.stats).toMatchObject({ rxPackets: 0, rxDropped: 1 });
  });

  it("reuses its buffers: same-sized frames arrive in the same pooled buffer", async () => {
    const sw = new MemorySwitch();
    const [a, b] = [sw.attach(), sw.attach()];
    const views = new Set<Uint8Array>();
    b.listen((f) => views.add(f));
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 4; i++) a.write(rawFrame(b.mac, a.mac, i, 1514));
      await tick();
    }
    expect(b.stats.rxPackets).toBe(200);
    expect(views.size).toBeLessThanOrEqual(4);
  });

  it("detaches a disconnected port: refuses its writes, drops its queue, forgets its addresses", async () => {
    const sw = new MemorySwitch();
    const [a, b, c] = [sw.attach(), sw.attach(), sw.attach()];
    const [atA, atB] = record(a, b);
    b.write(rawFrame(a.mac, b.mac, 1));
    a.write(rawFrame(b.mac, a.mac, 2)); // queued for b
    b.disconnect();
    b.disconnect();
    expect(b.attached).toBe(false);
    expect(sw.ports).toEqual([a, c]);
    expect(b.write(rawFrame(a.mac, b.mac, 3))).toBe(false);
    expect(b.stats.txDropped).toBe(1);
    await tick();
    expect(atA).toEqual([1]);
    expect(atB).toEqual([]);
    expect(sw.macTable().has(formatMac(b.mac))).toBe(false);
  });

  it("provides ports as drivers to a unikernel, and detaches them on stop", async () => {
    const sw = new MemorySwitch();
    const left = sw.port();
    const right = sw.port();
    const received: number[] = [];
    const App = createUnikernel({
      name: "pair",
      needs: { left: Netif, right: Netif },
      start({ left, right }) {
        right.listen((f) => received.push(seqOf(f)));
        left.write(rawFrame(right.mac, left.mac, 5));
        return () => {};
      },
    });
    const uk = App({ left, right });
    await uk.start();
    await tick();
    expect(received).toEqual([5]);
    expect(left.netif.attached).toBe(true);
    await uk.stop();
    expect(left.netif.attached).toBe(false);
    expect(sw.ports).toEqual([]);
  });
});
