// Several direct stacks on one link, under virtual time: ping, UDP and TCP
// between every pair, a thousand concurrent connections, and a SYN flood
// that must neither grow memory without bound nor lock out a real client.

import { afterEach, describe, expect, it } from "vitest";
import { readAll } from "../src/conformance.js";
import type { Flow } from "../src/signature.js";
import { ACK, fillChecksum, SYN, writeHeader, writeMssOption } from "../src/tcp/wire.js";
import { ip, ipv4Frame, sameBytes } from "./support/frames.js";
import { type World, world } from "./support/stacks.js";

let w: World;
afterEach(async () => {
  await w?.close();
});

async function echo(flow: Flow): Promise<void> {
  try {
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      await flow.write(chunk);
    }
    await flow.close();
  } catch {
    flow.abort();
  }
}

const text = new TextEncoder();

describe("direct stacks together", () => {
  it("ping, UDP and TCP between every pair of five stacks", async () => {
    w = world("five");
    const n = 5;
    const stacks = Array.from({ length: n }, (_, i) => w.add(`10.0.0.${i + 1}/24`));
    for (const s of stacks) {
      s.tcp.listen(7, (flow) => void echo(flow));
      s.udp.listen(
        7,
        (d) => void s.udp.send(d.srcAddress, d.srcPort, d.data.slice(), { srcPort: 7 }),
      );
    }
    const work: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const from = stacks[i]!;
      const replies: string[] = [];
      from.udp.listen(9000, (d) => replies.push(new TextDecoder().decode(d.data)));
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const to = `10.0.0.${j + 1}`;
        work.push(
          (async () => {
            const pong = await from.icmp.ping(to);
            expect(pong.address).toBe(to);
            await from.udp.send(to, 7, text.encode(`${i}->${j}`), { srcPort: 9000 });
            const flow = await from.tcp.connect(to, 7);
            const message = text.encode(`hello from ${i} to ${j}`);
            await flow.write(message);
            await flow.shutdown();
            expect(await readAll(flow)).toEqual(message);
            await flow.close();
          })(),
        );
      }
      work.push(
        (async () => {
          await w.time.timers.sleep(1e9);
          expect(replies.sort()).toEqual(
            Array.from({ length: n }, (_, j) => j)
              .filter((j) => j !== i)
              .map((j) => `${i}->${j}`)
              .sort(),
          );
        })(),
      );
    }
    await w.run(Promise.all(work));
    for (const s of stacks) expect(s.stats.internalErrors).toBe(0);
  });

  it("connects to itself through loopback, on its own address and on 127.0.0.1", async () => {
    w = world("self");
    const a = w.add("10.0.0.1/24");
    a.tcp.listen(7, (flow) => void echo(flow));
    for (const address of ["10.0.0.1", "127.0.0.1"]) {
      const flow = await w.run(a.tcp.connect(address, 7));
      expect(flow.localAddress).toBe(address);
      const data = new Uint8Array(200_000).map((_, i) => i * 13);
      const [back] = await w.run(
        Promise.all([readAll(flow), flow.write(data).then(() => flow.shutdown())]),
      );
      expect(sameBytes(back, data)).toBe(true);
      await w.run(flow.close());
    }
    expect(a.stats.ethernet.txFrames).toBe(1); // the first gratuitous ARP; everything else stayed inside
  });

  it("negotiates the segment size between stacks of different MTUs", async () => {
    w = world("mtu");
    const big = w.add("10.0.0.1/24", { mtu: 9000 });
    const small = w.add("10.0.0.2/24", { mtu: 1500 });
    small.tcp.listen(7, (flow) => void echo(flow));
    const flow = await w.run(big.tcp.connect("10.0.0.2", 7));
    const data = new Uint8Array(500_000).map((_, i) => i * 3);
    const [back] = await w.run(
      Promise.all([readAll(flow), flow.write(data).then(() => flow.shutdown())]),
    );
    expect(sameBytes(back, data)).toBe(true);
    // Nothing was fragmented, and no frame larger than 1500 + 14 reached the small stack's port.
    expect(big.stats.ipv4.datagramsFragmented + small.stats.ipv4.datagramsFragmented).toBe(0);
    expect(w.netifs[1]!.stats.rxDropped).toBe(0);
    await w.run(flow.close());
  });

  it("carries 1,000 concurrent connections between two stacks", async () => {
    w = world("thousand");
    const a = w.add("10.0.0.1/24");
    const b = w.add("10.0.0.2/24");
    let accepted = 0;
    b.tcp.listen(
      7,
      (flow) => {
        accepted++;
        void echo(flow);
      },
      { backlog: 1024 },
    );
    const count = 1000;
    const flows = await w.run(
      Promise.all(Array.from({ length: count }, () => a.tcp.connect("10.0.0.2", 7))),
    );
    expect(new Set(flows.map((f) => f.localPort)).size).toBe(count);
    expect(accepted).toBe(count);
    expect(a.stats.tcp.currentConnections).toBe(count);
    expect(b.stats.tcp.currentConnections).toBe(count);
    // Every connection carries its own 1 KiB at the same time.
    const results = await w.run(
      Promise.all(
        flows.map(async (flow, i) => {
          const data = new Uint8Array(1024).fill(i & 255);
          data[0] = i >> 8;
          await flow.write(data);
          await flow.shutdown();
          const back = await readAll(flow);
          await flow.close();
          return back.length === data.length && back.every((v, k) => v === data[k]);
        }),
      ),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(a.stats.tcp.rxDropped + b.stats.tcp.rxDropped).toBe(0);
  });

  it("survives a flood of 10,000 spoofed SYNs with bounded state, and still serves a real client", async () => {
    w = world("flood", { hub: true });
    const server = w.add("10.0.0.2/24", { tcp: { synBacklog: 128 } });
    const client = w.add("10.0.0.1/24");
    server.tcp.listen(80, (flow) => void echo(flow));
    const port = w.ports[0]!;
    const attacker = new Uint8Array([2, 0xba, 0xd0, 0, 0, 1]);
    const segment = new Uint8Array(24);
    let maxHalfOpen = 0;
    let maxArp = 0;
    for (let i = 0; i < 10_000; i++) {
      // Spoofed sources all over the subnet: the SYN-ACKs go to hosts that never answer.
      const src = `10.0.0.${10 + (i % 240)}`;
      writeHeader(segment, 0, 1024 + (i % 60000), 80, (i * 2654435761) >>> 0, 0, SYN, 65535, 24);
      writeMssOption(segment, 20, 1460);
      fillChecksum(segment, 0, 24, ip(src), ip("10.0.0.2"));
      port.deliver(
        ipv4Frame({
          srcMac: attacker,
          dstMac: port.mac,
          src,
          dst: "10.0.0.2",
          protocol: 6,
          payload: segment,
          id: i,
        }),
      );
      if (i % 100 === 0) {
        await w.time.advance(1e6);
        const tcp = server.stats.tcp as { halfOpen?: number };
        maxHalfOpen = Math.max(maxHalfOpen, tcp.halfOpen ?? 0);
        maxArp = Math.max(maxArp, server.interface.arp.size);
      }
    }
    const tcp = server.stats.tcp as { halfOpen?: number; synCookiesSent?: number };
    expect(server.stats.tcp.rxSegments).toBeGreaterThanOrEqual(10_000);
    expect(maxHalfOpen).toBeLessThanOrEqual(128);
    expect(tcp.synCookiesSent).toBeGreaterThan(9_000);
    expect(maxArp).toBeLessThanOrEqual(1024);
    expect(server.interface.arp.pendingBytes).toBeLessThanOrEqual(1 << 20);
    // A real client still gets through, while the flood's half-open connections linger.
    const flow = await w.run(client.tcp.connect("10.0.0.2", 80));
    await w.run(flow.write(text.encode("still here?")));
    await w.run(flow.shutdown());
    expect(new TextDecoder().decode(await w.run(readAll(flow)))).toBe("still here?");
    await w.run(flow.close());
    // A bare ACK with a wrong cookie opens nothing.
    writeHeader(segment, 0, 5555, 80, 1, 12345, ACK, 65535, 20);
    fillChecksum(segment, 0, 20, ip("10.0.0.99"), ip("10.0.0.2"));
    port.deliver(
      ipv4Frame({
        srcMac: attacker,
        dstMac: port.mac,
        src: "10.0.0.99",
        dst: "10.0.0.2",
        protocol: 6,
        payload: segment.subarray(0, 20),
      }),
    );
    await w.time.advance(1e6);
    expect(server.stats.tcp.passiveOpens).toBe(1);
    expect(server.stats.internalErrors).toBe(0);
  });
});
