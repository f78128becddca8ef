// Many connections and broken ones: 200 concurrent connections from Linux,
// all served; Linux resetting connections mid-transfer in both directions,
// a Linux server resetting Atoll's connection, and Linux refusing one —
// Atoll sees typed errors and nothing hangs.

import { isAtollError } from "@atoll/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  createWorld,
  progress,
  skipReason,
  tcpEcho,
  tcpSink,
  tcpSource,
  type World,
} from "../src/index.js";
import { CONCURRENT_ECHO_CLIENT, RESETTING_CLIENT, RESETTING_SERVER } from "../src/python.js";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Resolves when `condition` holds, polling every 10 ms; rejects after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("connections between Linux and Atoll", () => {
  it.skipIf(skipReason("200 concurrent connections", "python3") !== undefined)(
    "serves 200 concurrent connections from Linux",
    async () => {
      world = await createWorld();
      const w = world;
      const echo = tcpEcho(w.stack, 7, { backlog: 256 });
      progress("200 concurrent connections from python3");
      const out = await w.netns.run(
        ["python3", "-c", CONCURRENT_ECHO_CLIENT, "10.77.0.2", "7", "200"],
        {
          timeoutMs: 120_000,
        },
      );
      expect(out.trim()).toBe("200");
      const flows = await echo.ended(200);
      expect(flows).toHaveLength(200);
      expect(echo.peak).toBe(200);
      expect(flows.every((f) => f.error === undefined)).toBe(true);
      expect(w.stack.stats.tcp.passiveOpens).toBe(200);
      await until(
        () => w.stack.stats.tcp.currentConnections === 0,
        10_000,
        "every connection to close",
      );
      expect(w.stack.stats.internalErrors).toBe(0);
    },
  );

  it.skipIf(skipReason("resets from Linux", "python3") !== undefined)(
    "reports Linux's resets mid-transfer as ATOLL_TCP_RESET, both directions",
    async () => {
      world = await createWorld();
      const w = world;
      const source = tcpSource(w.stack, 5001, 1, 1 << 30);
      const sink = tcpSink(w.stack, 5002);

      progress("Linux resets a download after 1 MB");
      const down = await w.netns.run(
        ["python3", "-c", RESETTING_CLIENT, "download", "10.77.0.2", "5001", String(1 << 20)],
        { timeoutMs: 30_000 },
      );
      expect(down.trim()).toBe("reset");
      const [sent] = await source.ended(1);
      expect(sent!.errorCode).toBe("ATOLL_TCP_RESET");
      expect(sent!.bytesOut).toBeGreaterThanOrEqual(1 << 20);
      expect(sent!.bytesOut).toBeLessThan(1 << 30);

      progress("Linux resets an upload after 4 MB");
      const up = await w.netns.run(
        ["python3", "-c", RESETTING_CLIENT, "upload", "10.77.0.2", "5002", String(4 << 20)],
        { timeoutMs: 30_000 },
      );
      expect(up.trim()).toBe("reset");
      const [received] = await sink.ended(1);
      expect(received!.errorCode).toBe("ATOLL_TCP_RESET");
      expect(received!.digestIn).toBeUndefined();
      expect(w.stack.stats.tcp.resetsReceived).toBeGreaterThanOrEqual(2);
      await until(() => w.stack.stats.tcp.currentConnections === 0, 5000, "the connections to go");
    },
  );

  it.skipIf(skipReason("a Linux server that resets or refuses", "python3") !== undefined)(
    "reports a Linux server's reset and a refused connection as typed errors",
    async () => {
      world = await createWorld();
      const w = world;
      progress("Atoll sends to a Linux server that resets after 64 KiB");
      const server = w.netns.spawn(["python3", "-u", "-c", RESETTING_SERVER, "9100", "65536"]);
      await new Promise<void>((resolve, reject) => {
        server.stdout?.on("data", (d: Buffer) => d.toString().includes("listening") && resolve());
        server.on("close", (code) => reject(new Error(`the server exited (${code})`)));
      });
      const flow = await w.stack.tcp.connect("10.77.0.1", 9100, { timeoutNs: 5e9 });
      const chunk = new Uint8Array(64 * 1024);
      const error = await (async () => {
        for (let i = 0; i < 16_384; i++) await flow.write(chunk); // 1 GiB: it must fail long before
        return undefined;
      })().catch((e: unknown) => e);
      expect(isAtollError(error, "ATOLL_TCP_RESET")).toBe(true);
      await expect(flow.read()).rejects.toSatisfy((e: unknown) =>
        isAtollError(e, "ATOLL_TCP_RESET"),
      );
      await flow.closed;

      progress("Atoll connects to a port where Linux listens on nothing");
      const refused = await w.stack.tcp
        .connect("10.77.0.1", 9101, { timeoutNs: 5e9 })
        .catch((e: unknown) => e);
      expect(isAtollError(refused, "ATOLL_TCP_REFUSED")).toBe(true);
      expect(w.stack.stats.tcp.currentConnections).toBe(0);
      expect(w.stack.stats.internalErrors).toBe(0);
    },
  );
});
