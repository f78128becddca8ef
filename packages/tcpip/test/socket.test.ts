import * as dgram from "node:dgram";
import * as net from "node:net";
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { stackConformance } from "../src/conformance.js";
import { createSocketStack, type SocketStack } from "../src/socket.js";

/** A port that is free for both TCP and UDP on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const free = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket("udp4");
      socket.once("error", () => resolve(false));
      socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

stackConformance({
  name: "socket stack over loopback",
  setup: () => ({
    a: createSocketStack(),
    b: createSocketStack(),
    aAddress: "127.0.0.1",
    bAddress: "127.0.0.1",
    wait: <T>(promise: Promise<T>) => promise,
    sleep: (ns: number) => new Promise<void>((resolve) => setTimeout(resolve, ns / 1e6)),
    port: freePort,
    ping: false,
  }),
  async teardown(h) {
    await (h.a as SocketStack).close();
    await (h.b as SocketStack).close();
  },
});

describe("socket stack", () => {
  it("maps host errors to typed errors and counts connections", async () => {
    const stack = createSocketStack();
    try {
      const port = await freePort();
      const refused = await stack.tcp.connect("127.0.0.1", port).catch((e: unknown) => e);
      expect(isAtollError(refused, "ATOLL_TCP_REFUSED")).toBe(true);
      expect((refused as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
      const ping = await stack.icmp.ping("127.0.0.1").catch((e: unknown) => e);
      expect(isAtollError(ping, "ATOLL_NET_UNSUPPORTED")).toBe(true);
      stack.tcp.listen(port, (flow) => void flow.close());
      const flow = await stack.tcp.connect("127.0.0.1", port);
      expect(stack.stats.tcp.activeOpens).toBe(1);
      await flow.close();
      await expect(stack.tcp.connect("localhost", port)).rejects.toThrow(TypeError);
      expect(stack.ipv4.config()).toEqual({
        address: "127.0.0.1",
        prefixLength: undefined,
        gateway: undefined,
      });
    } finally {
      await stack.close();
    }
  });

  it("reports a port taken by another program as a counted error, not a crash", async () => {
    const holder = net.createServer();
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, "127.0.0.1", () => resolve((holder.address() as net.AddressInfo).port)),
    );
    const stack = createSocketStack();
    try {
      stack.tcp.listen(port, () => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stack.stats.tcp.listenErrors).toBe(1);
    } finally {
      await stack.close();
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
