import * as net from "node:net";
import { VirtualTime } from "@atoll/clock";
import { SeededRandom, seededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import { createDirectStack, direct } from "@atoll/tcpip";
import { readAll } from "@atoll/tcpip/conformance";
import { createSocketStack, socketStack } from "@atoll/tcpip/socket";
import { describe, expect, it } from "vitest";
import { Echo } from "../src/unikernel.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("echo on the socket stack", () => {
  it("echoes TCP and UDP on the port it is given", async () => {
    const port = await freePort();
    const uk = Echo({ stack: socketStack() });
    await uk.start([`--port=${port}`]);
    const client = createSocketStack();
    try {
      const flow = await client.tcp.connect("127.0.0.1", port);
      const payload = new Uint8Array(300_000).map((_, i) => i & 255);
      const [back] = await Promise.all([
        readAll(flow),
        flow.write(payload).then(() => flow.shutdown()),
      ]);
      expect(back.length).toBe(payload.length);
      expect(back.every((v, i) => v === payload[i])).toBe(true);
      await flow.close();

      const replyPort = await freePort();
      const reply = new Promise<string>((resolve) =>
        client.udp.listen(replyPort, (d) => resolve(decoder.decode(d.data))),
      );
      await client.udp.send("127.0.0.1", port, encoder.encode("hello"), { srcPort: replyPort });
      expect(await reply).toBe("hello");
    } finally {
      await client.close();
      await uk.stop();
    }
  });

  it("documents --port and the stack's --bind in --help", () => {
    const help = Echo({ stack: socketStack() }).help();
    expect(help).toContain("--port=PORT");
    expect(help).toContain("--bind=IPV4");
  });
});

describe("echo on the direct stack, on a memory switch, under virtual time", () => {
  it("echoes TCP and UDP to a client stack on another port of the switch", async () => {
    const world = new VirtualTime();
    const sw = new MemorySwitch();
    const uk = Echo({
      stack: direct(),
      netif: sw.port(),
      clock: world.monotonic(),
      time: world.time(),
      random: seededRandom("echo"),
    });
    await world.run(uk.start(["--port=7", "--ipv4=10.0.0.2/24"]));
    const client = createDirectStack(
      {
        netif: sw.attach(),
        clock: world.clock,
        time: world.timers,
        random: new SeededRandom("client"),
      },
      { ipv4: "10.0.0.1/24" },
    );
    try {
      const flow = await world.run(client.tcp.connect("10.0.0.2", 7));
      const payload = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
      const [back] = await world.run(
        Promise.all([readAll(flow), flow.write(payload).then(() => flow.shutdown())]),
      );
      expect(back.length).toBe(payload.length);
      expect(back.every((v, i) => v === payload[i])).toBe(true);
      await world.run(flow.close());

      const reply = new Promise<string>((resolve) =>
        client.udp.listen(4000, (d) => resolve(decoder.decode(d.data))),
      );
      await world.run(client.udp.send("10.0.0.2", 7, encoder.encode("hello"), { srcPort: 4000 }));
      expect(await world.run(reply)).toBe("hello");
      expect((await world.run(client.icmp.ping("10.0.0.2"))).address).toBe("10.0.0.2");
    } finally {
      await world.run(client.close());
      await world.run(uk.stop());
    }
  });

  it("lists the direct stack's --ipv4 and --ipv4-gateway in --help", () => {
    const world = new VirtualTime();
    const help = Echo({
      stack: direct(),
      netif: new MemorySwitch().port(),
      clock: world.monotonic(),
      time: world.time(),
      random: seededRandom(1),
    }).help();
    expect(help).toContain("--ipv4=CIDR");
    expect(help).toContain("--ipv4-gateway=IPV4");
  });
});
