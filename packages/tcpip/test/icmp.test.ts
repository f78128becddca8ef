import { isAtollError } from "@atoll/core";
import { afterEach, describe, expect, it } from "vitest";
import { echoRequestPayload, ipv4Frame } from "./support/frames.js";
import { type World, world } from "./support/stacks.js";

let w: World;
afterEach(async () => {
  await w?.close();
});

describe("ICMP echo", () => {
  it("pings both ways and measures the round trip on the virtual clock", async () => {
    w = world(7);
    // 1 ms each way: each port delays what it sends.
    const a = w.add("10.0.0.1/24", { announce: false, impair: { tx: { delayNs: 1e6 } } });
    const b = w.add("10.0.0.2/24", { announce: false, impair: { tx: { delayNs: 1e6 } } });
    // The first ping pays for ARP: request, reply, echo, echo reply.
    const first = await w.run(a.icmp.ping("10.0.0.2"));
    expect(first).toEqual({ address: "10.0.0.2", rttNs: 4e6, ttl: 64, bytes: 64 });
    const second = await w.run(a.icmp.ping("10.0.0.2", { size: 1000 }));
    expect(second).toEqual({ address: "10.0.0.2", rttNs: 2e6, ttl: 64, bytes: 1008 });
    // B learned A's MAC from A's request: no ARP on the way back.
    const back = await w.run(b.icmp.ping("10.0.0.1"));
    expect(back.rttNs).toBe(2e6);
    expect(a.stats.icmp.echoRepliesSent).toBe(1);
    expect(b.stats.icmp.echoRepliesSent).toBe(2);
    expect(a.stats.icmp.echoRepliesReceived).toBe(2);
  });

  it("pings with payloads that need fragmenting", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    w.add("10.0.0.2/24");
    const result = await w.run(a.icmp.ping("10.0.0.2", { size: 20000 }));
    expect(result.bytes).toBe(20008);
    expect(a.stats.fragments.reassembled).toBe(1);
  });

  it("pings itself through loopback", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    expect(await w.run(a.icmp.ping("10.0.0.1"))).toMatchObject({ rttNs: 0, address: "10.0.0.1" });
    expect(await w.run(a.icmp.ping("127.0.0.1"))).toMatchObject({ rttNs: 0 });
  });

  it("times out, fails without a route, and stops when aborted", async () => {
    w = world();
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    b.interface.close(); // B stops answering, but A still has no ARP entry: the ping times out
    const timeout = await w.run(
      a.icmp.ping("10.0.0.2", { timeoutNs: 500e6 }).catch((e: unknown) => e),
    );
    expect(isAtollError(timeout, "ATOLL_NET_TIMEOUT")).toBe(true);
    expect(w.time.now()).toBe(500e6);
    const noRoute = await a.icmp.ping("192.0.2.1").catch((e: unknown) => e);
    expect(isAtollError(noRoute, "ATOLL_NET_UNREACHABLE")).toBe(true);
    const controller = new AbortController();
    const pinging = a.icmp.ping("10.0.0.2", { timeoutNs: 10e9, signal: controller.signal });
    w.time.timers.setTimer(100e6, () => controller.abort());
    const aborted = await w.run(pinging.catch((e: unknown) => e));
    expect(isAtollError(aborted, "ATOLL_ABORTED")).toBe(true);
    expect(w.time.now()).toBe(600e6);
    expect(a.interface.icmp.pingsInFlight).toBe(0);
    await expect(a.icmp.ping("nonsense")).rejects.toThrow(TypeError);
    await expect(a.icmp.ping("10.0.0.2", { size: 70000 })).rejects.toThrow(RangeError);
  });

  it("fails a ping at once when ARP gives up", async () => {
    w = world();
    const a = w.add("10.0.0.1/24", { arp: { maxRequests: 1, retryNs: 100e6 } });
    const error = await w.run(
      a.icmp.ping("10.0.0.50", { timeoutNs: 5e9 }).catch((e: unknown) => e),
    );
    expect(isAtollError(error, "ATOLL_NET_UNREACHABLE")).toBe(true);
    expect(w.time.now()).toBe(100e6);
  });

  it("ignores echo requests to a broadcast address, and replies that match no ping", async () => {
    w = world(1, { hub: true });
    const b = w.add("10.0.0.2/24");
    const port = w.ports[0]!;
    const peer = new Uint8Array([2, 7, 7, 7, 7, 7]);
    const frame = (dst: string, type: number) => {
      const payload = echoRequestPayload(1, 1, new Uint8Array(8));
      if (type === 0) {
        payload[0] = 0;
        payload[2]! += 8; // adjust the checksum for the type change (8 → 0 in the high byte)
      }
      return ipv4Frame({
        srcMac: peer,
        dstMac: port.mac,
        src: "10.0.0.9",
        dst,
        protocol: 1,
        payload,
      });
    };
    w.hub.inject(port, frame("10.0.0.255", 8));
    w.hub.inject(port, frame("255.255.255.255", 8));
    w.hub.inject(port, frame("10.0.0.2", 0));
    await w.time.advance(1e6);
    expect(b.stats.icmp.echoRequestsReceived).toBe(2);
    expect(b.stats.icmp.echoRepliesSent).toBe(0);
    expect(b.stats.icmp.ignored).toBe(1);
    expect(b.stats.icmp.rxErrors).toBe(0);
  });

  it("answers a ping from a host it has not resolved yet, resolving it first", async () => {
    w = world();
    const a = w.add("10.0.0.1/24", { announce: false });
    const b = w.add("10.0.0.2/24", { announce: false });
    // A's ARP request teaches B; then B answers the echo without asking.
    await w.run(a.icmp.ping("10.0.0.2"));
    expect(b.stats.arp.requestsSent).toBe(0);
    b.interface.arp.clear();
    const again = await w.run(a.icmp.ping("10.0.0.2"));
    expect(again.rttNs).toBe(0);
    expect(b.stats.arp.requestsSent).toBe(1);
  });
});
