import * as net from "node:net";
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
      expect(back).toEqual(payload);
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
