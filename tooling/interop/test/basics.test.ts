// Atoll's direct stack on a TAP device against the Linux kernel in a fresh
// network namespace: ARP both ways, ICMP echo both ways, UDP echo with
// socat, TCP echo with nc (Linux as client) and Atoll connecting to a Linux
// listener — and being refused by a port where nothing listens.

import { createHash } from "node:crypto";
import { isAtollError } from "@atoll/core";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, progress, skipReason, tcpEcho, udpEcho, type World } from "../src/index.js";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const neighbour = async (w: World, address: string) =>
  (await w.netns.ip("neigh", "show", address, "dev", w.link.name)).trim();

describe("Atoll and Linux on one link", () => {
  it.skipIf(skipReason("ARP and ping", "ping") !== undefined)(
    "resolve each other with ARP and answer pings both ways (ping -c 100: 0% loss)",
    async () => {
      world = await createWorld();
      const w = world;
      progress("ARP and ICMP: Linux pings Atoll 100 times");
      // Linux resolves Atoll: no neighbour entry before, Atoll's MAC after.
      expect(await neighbour(w, "10.77.0.2")).toBe("");
      const ping = await w.netns.exec(
        ["ping", "-c", "100", "-i", "0.01", "-W", "1", "-q", "10.77.0.2"],
        {
          timeoutMs: 30_000,
        },
      );
      expect(ping.stdout).toMatch(/100 packets transmitted, 100 received, 0% packet loss/);
      expect(ping.code).toBe(0);
      expect(await neighbour(w, "10.77.0.2")).toMatch(
        new RegExp(`lladdr ${w.link.mac} (REACHABLE|STALE|DELAY)`),
      );
      expect(w.stack.stats.icmp.echoRepliesSent).toBe(100);
      expect(w.stack.stats.arp.repliesSent).toBeGreaterThanOrEqual(1);

      // Atoll resolves Linux and pings it.
      const before = w.stack.stats.arp.requestsSent;
      w.stack.interface.arp.clear();
      const pong = await w.stack.icmp.ping("10.77.0.1", { timeoutNs: 2e9 });
      expect(pong.address).toBe("10.77.0.1");
      expect(pong.rttNs).toBeGreaterThan(0);
      expect(pong.ttl).toBe(64);
      expect(w.stack.stats.arp.requestsSent).toBeGreaterThan(before);
      const mac = w.stack.interface.arp.lookup(0x0a4d0001);
      expect(mac && Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":")).toBe(
        w.link.hostMac,
      );
      // Larger than the MTU: fragmented both ways, reassembled both ways.
      const big = await w.stack.icmp.ping("10.77.0.1", { size: 4000, timeoutNs: 2e9 });
      expect(big.bytes).toBe(4008); // ICMP header included
      const bigLinux = await w.netns.exec([
        "ping",
        "-c",
        "3",
        "-i",
        "0.05",
        "-s",
        "4000",
        "-q",
        "10.77.0.2",
      ]);
      expect(bigLinux.stdout).toMatch(/3 received, 0% packet loss/);
      expect(w.stack.stats.internalErrors).toBe(0);
    },
  );

  it.skipIf(skipReason("UDP echo", "socat") !== undefined)(
    "echoes UDP datagrams to socat",
    async () => {
      world = await createWorld();
      const w = world;
      const echo = udpEcho(w.stack, 7);
      progress("UDP echo with socat");
      for (const size of [1, 100, 1472, 4000]) {
        const payload = `${"u".repeat(size - 1)}\n`;
        const out = await w.netns.run(["socat", "-t", "0.5", "-", "UDP:10.77.0.2:7"], {
          input: payload,
        });
        expect(out).toBe(payload);
      }
      expect(echo.received).toBe(4);
    },
  );

  it.skipIf(skipReason("TCP echo", "nc") !== undefined)(
    "echoes a TCP stream to nc, byte for byte",
    async () => {
      world = await createWorld();
      const w = world;
      const echo = tcpEcho(w.stack, 7);
      progress("TCP echo with nc (1 MB)");
      const data = Buffer.alloc(1 << 20);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
      const out = await w.netns.exec(["sh", "-c", "nc -N 10.77.0.2 7 | sha256sum"], {
        input: data,
      });
      expect(out.code).toBe(0);
      const digest = createHash("sha256").update(data).digest("hex");
      expect(out.stdout.split(" ")[0]).toBe(digest);
      const [flow] = await echo.ended(1);
      expect(flow).toMatchObject({ bytesIn: data.length, bytesOut: data.length, digestIn: digest });
      expect(flow!.error).toBeUndefined();
    },
  );

  it.skipIf(skipReason("Atoll as TCP client", "socat") !== undefined)(
    "connects to a Linux listener, and is refused where none listens",
    async () => {
      world = await createWorld();
      const w = world;
      progress("Atoll connects to socat; then to a closed port");
      const server = w.netns.spawn(["socat", "TCP-LISTEN:9000,reuseaddr,fork", "PIPE"]);
      // Wait for the listener.
      for (let i = 0; i < 100; i++) {
        const ss = await w.netns.exec(["ss", "-ltn", "sport = :9000"]);
        if (ss.stdout.includes(":9000")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const flow = await w.stack.tcp.connect("10.77.0.1", 9000, { timeoutNs: 5e9 });
      const message = new TextEncoder().encode("hello from Atoll\n");
      await flow.write(message);
      await flow.shutdown();
      const chunks: Uint8Array[] = [];
      for (;;) {
        const c = await flow.read();
        if (c === null) break;
        chunks.push(c);
      }
      expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe("hello from Atoll\n");
      await flow.close();
      server.kill();

      const refused = await w.stack.tcp
        .connect("10.77.0.1", 9001, { timeoutNs: 5e9 })
        .catch((e: unknown) => e);
      expect(isAtollError(refused, "ATOLL_TCP_REFUSED")).toBe(true);
      expect(w.stack.stats.internalErrors).toBe(0);
    },
  );
});
