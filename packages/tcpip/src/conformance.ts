// @atoll/tcpip/conformance: the Stack conformance suite. Every stack — the
// direct stack on a memory switch, the socket stack over loopback, a stack
// published by someone else — runs it against itself with vitest:
//
//   stackConformance({
//     name: "my stack",
//     setup: async () => ({ a, b, aAddress, bAddress, wait: (p) => p, sleep, port: () => 40000 }),
//     teardown: async (h) => { await close(h.a); await close(h.b); },
//   });

import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import type { Flow, Stack, UdpDatagram } from "./signature.js";

export interface StackHarness {
  /** Two stacks that can reach each other. */
  readonly a: Stack;
  readonly b: Stack;
  /** The address at which the other stack reaches `a`, and `b`. */
  readonly aAddress: string;
  readonly bAddress: string;
  /** Lets time pass until `promise` settles: identity for real time, `world.run` for virtual time. */
  wait<T>(promise: Promise<T>): Promise<T>;
  /** Resolves after `ns` on the stacks' timeline (pass it to `wait` with virtual time). */
  sleep(ns: number): Promise<void>;
  /** A port free on both stacks, different at each call. */
  port(): number | Promise<number>;
  /** True when `icmp.ping` works on these stacks; otherwise ping must reject with an AtollError. */
  readonly ping: boolean;
}

export interface StackConformanceOptions<H extends StackHarness> {
  readonly name?: string;
  setup(): H | Promise<H>;
  teardown?(harness: H): void | Promise<void>;
  /** Per-test timeout, ms (default 30 000). */
  readonly timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MS = 1e6;

async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads until end of stream and returns everything. */
export async function readAll(flow: Flow): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    chunks.push(chunk);
    length += chunk.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Copies everything read to the write side, then shuts down: an echo. */
async function echo(flow: Flow): Promise<void> {
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    await flow.write(chunk);
  }
  await flow.shutdown();
}

/** Resolves with the next flow `stack` accepts on `port`. */
function accept(stack: Stack, port: number): Promise<Flow> {
  return new Promise((resolve) => stack.tcp.listen(port, resolve));
}

function code(error: unknown): string {
  return isAtollError(error) ? error.code : `not an AtollError: ${String(error)}`;
}

export function stackConformance<H extends StackHarness>(
  options: StackConformanceOptions<H>,
): void {
  const run = (body: (h: H) => Promise<void>) => async () => {
    const h = await options.setup();
    try {
      await body(h);
    } finally {
      await options.teardown?.(h);
    }
  };
  const timeout = options.timeoutMs ?? 30_000;

  describe(`Stack conformance${options.name ? `: ${options.name}` : ""}`, () => {
    it(
      "connects to a listener, with the right addresses and ports on both ends",
      run(async (h) => {
        const port = await h.port();
        const accepted = accept(h.b, port);
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        const server = await h.wait(accepted);
        expect(client.remoteAddress).toBe(h.bAddress);
        expect(client.remotePort).toBe(port);
        expect(client.localAddress).toBe(h.aAddress);
        expect(server.localAddress).toBe(h.bAddress);
        expect(server.localPort).toBe(port);
        expect(server.remoteAddress).toBe(h.aAddress);
        expect(server.remotePort).toBe(client.localPort);
        expect(client.localPort).toBeGreaterThan(0);
        await h.wait(Promise.all([client.close(), server.close()]));
        await h.wait(Promise.all([client.closed, server.closed]));
      }),
      timeout,
    );

    it(
      "echoes 1 MB intact (SHA-256), in both directions at once",
      run(async (h) => {
        const port = await h.port();
        h.b.tcp.listen(port, (flow) => void echo(flow).catch(() => flow.abort()));
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        const data = new Uint8Array(1 << 20);
        for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
        const writer = (async () => {
          for (let at = 0; at < data.length; at += 16384)
            await client.write(data.subarray(at, at + 16384));
          await client.shutdown();
        })();
        const [, back] = await h.wait(Promise.all([writer, readAll(client)]));
        expect(back.length).toBe(data.length);
        expect(await sha256(back)).toBe(await sha256(data));
        await h.wait(client.close());
      }),
      timeout,
    );

    it(
      "half-closes: after shutdown the writer keeps reading, and cannot write",
      run(async (h) => {
        const port = await h.port();
        const served = new Promise<string>((resolve, reject) => {
          h.b.tcp.listen(port, (flow) => {
            void (async () => {
              const request = decoder.decode(await readAll(flow));
              await flow.write(encoder.encode(`${request}, world`));
              await flow.close();
              return request;
            })().then(resolve, reject);
          });
        });
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        await h.wait(client.write(encoder.encode("hello")));
        await h.wait(client.shutdown());
        const error = await h.wait(client.write(encoder.encode("more")).catch((e: unknown) => e));
        expect(code(error)).toBe("ATOLL_TCP_CLOSED");
        const reply = await h.wait(readAll(client));
        expect(decoder.decode(reply)).toBe("hello, world");
        expect(await h.wait(served)).toBe("hello");
        await h.wait(client.close());
        await h.wait(client.closed);
      }),
      timeout,
    );

    it(
      "refuses a connection to a port no one listens on",
      run(async (h) => {
        const port = await h.port();
        const error = await h.wait(h.a.tcp.connect(h.bAddress, port).catch((e: unknown) => e));
        expect(code(error)).toBe("ATOLL_TCP_REFUSED");
      }),
      timeout,
    );

    it(
      "stops accepting after unlisten, and listens again",
      run(async (h) => {
        const port = await h.port();
        h.b.tcp.listen(port, (flow) => void flow.close());
        const first = await h.wait(h.a.tcp.connect(h.bAddress, port));
        await h.wait(first.close());
        h.b.tcp.unlisten(port);
        const error = await h.wait(h.a.tcp.connect(h.bAddress, port).catch((e: unknown) => e));
        expect(code(error)).toBe("ATOLL_TCP_REFUSED");
        h.b.tcp.listen(port, (flow) => void flow.close());
        const again = await h.wait(h.a.tcp.connect(h.bAddress, port));
        await h.wait(again.close());
      }),
      timeout,
    );

    it(
      "reports ATOLL_TCP_RESET on read when the peer aborts",
      run(async (h) => {
        const port = await h.port();
        h.b.tcp.listen(port, (flow) => {
          void flow.read().then(() => flow.abort());
        });
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        await h.wait(client.write(encoder.encode("x")));
        const error = await h.wait(readAll(client).catch((e: unknown) => e));
        expect(code(error)).toBe("ATOLL_TCP_RESET");
        await h.wait(client.closed);
      }),
      timeout,
    );

    it(
      "reports ATOLL_TCP_RESET on write when the peer aborts",
      run(async (h) => {
        const port = await h.port();
        const aborted = new Promise<void>((resolve) =>
          h.b.tcp.listen(port, (flow) => {
            void flow.read().then(() => {
              flow.abort();
              resolve();
            });
          }),
        );
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        await h.wait(client.write(encoder.encode("x")));
        await h.wait(aborted);
        let error: unknown;
        const chunk = new Uint8Array(1024);
        for (let i = 0; i < 200 && error === undefined; i++) {
          error = await h.wait(
            client.write(chunk).then(
              () => undefined,
              (e: unknown) => e,
            ),
          );
          if (error === undefined) await h.wait(h.sleep(5 * MS));
        }
        expect(code(error)).toBe("ATOLL_TCP_RESET");
      }),
      timeout,
    );

    it(
      "aborting locally ends the flow at once on this side",
      run(async (h) => {
        const port = await h.port();
        const accepted = accept(h.b, port);
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        const server = await h.wait(accepted);
        client.abort();
        await h.wait(client.closed);
        const error = await h.wait(server.read().catch((e: unknown) => e));
        expect(code(error)).toBe("ATOLL_TCP_RESET");
        const writeError = await h.wait(
          client.write(encoder.encode("late")).catch((e: unknown) => e),
        );
        expect(isAtollError(writeError)).toBe(true);
      }),
      timeout,
    );

    it(
      "carries data over the Web Streams views",
      run(async (h) => {
        const port = await h.port();
        h.b.tcp.listen(
          port,
          (flow) => void flow.readable.pipeTo(flow.writable).catch(() => flow.abort()),
        );
        const client = await h.wait(h.a.tcp.connect(h.bAddress, port));
        const writer = client.writable.getWriter();
        const reader = client.readable.getReader();
        const text = "streams all the way down";
        const received = (async () => {
          let out = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return out;
            out += decoder.decode(value, { stream: true });
          }
        })();
        await h.wait(writer.write(encoder.encode(text)));
        await h.wait(writer.close());
        expect(await h.wait(received)).toBe(text);
        await h.wait(client.close());
      }),
      timeout,
    );

    it(
      "refuses a second TCP or UDP listener on the same port with ATOLL_ADDRESS_IN_USE",
      run(async (h) => {
        const port = await h.port();
        h.b.tcp.listen(port, () => {});
        expect(() => h.b.tcp.listen(port, () => {})).toThrow(
          expect.objectContaining({ code: "ATOLL_ADDRESS_IN_USE" }),
        );
        h.b.udp.listen(port, () => {});
        expect(() => h.b.udp.listen(port, () => {})).toThrow(
          expect.objectContaining({ code: "ATOLL_ADDRESS_IN_USE" }),
        );
        h.b.tcp.unlisten(port);
        h.b.udp.unlisten(port);
        h.b.tcp.listen(port, () => {});
        h.b.udp.listen(port, () => {});
        h.b.tcp.unlisten(port);
        h.b.udp.unlisten(port);
      }),
      timeout,
    );

    it(
      "sends UDP datagrams with addresses and ports, replies to the source, and stops after unlisten",
      run(async (h) => {
        const [serverPort, clientPort] = [await h.port(), await h.port()];
        const seen: Array<Omit<UdpDatagram, "data"> & { text: string }> = [];
        h.b.udp.listen(serverPort, (d) => {
          seen.push({ ...d, text: decoder.decode(d.data) });
          void h.b.udp.send(
            d.srcAddress,
            d.srcPort,
            encoder.encode(`re: ${decoder.decode(d.data)}`),
            {
              srcPort: d.dstPort,
            },
          );
        });
        const replies: UdpDatagram[] = [];
        const replied = new Promise<void>((resolve) =>
          h.a.udp.listen(clientPort, (d) => {
            replies.push({ ...d, data: d.data.slice() });
            resolve();
          }),
        );
        await h.wait(
          h.a.udp.send(h.bAddress, serverPort, encoder.encode("ping"), { srcPort: clientPort }),
        );
        await h.wait(replied);
        expect(seen).toEqual([
          expect.objectContaining({
            srcAddress: h.aAddress,
            srcPort: clientPort,
            dstPort: serverPort,
            text: "ping",
          }),
        ]);
        expect(replies[0]).toMatchObject({
          srcAddress: h.bAddress,
          srcPort: serverPort,
          dstPort: clientPort,
        });
        expect(decoder.decode(replies[0]!.data)).toBe("re: ping");

        h.b.udp.unlisten(serverPort);
        await h.wait(
          h.a.udp
            .send(h.bAddress, serverPort, encoder.encode("lost"), { srcPort: clientPort })
            .catch(() => {}),
        );
        await h.wait(h.sleep(100 * MS));
        expect(seen).toHaveLength(1);
        h.a.udp.unlisten(clientPort);
      }),
      timeout,
    );

    it(
      "pings the other stack, or rejects with a typed error where ping is unsupported",
      run(async (h) => {
        const result = await h.wait(
          h.a.icmp.ping(h.bAddress, { timeoutNs: 2000 * MS }).catch((e: unknown) => e),
        );
        if (h.ping) {
          expect(result).toMatchObject({ address: h.bAddress });
          expect((result as { rttNs: number }).rttNs).toBeGreaterThanOrEqual(0);
        } else {
          expect(isAtollError(result)).toBe(true);
        }
      }),
      timeout,
    );

    it(
      "reports its IPv4 configuration",
      run(async (h) => {
        expect(h.a.ipv4.config().address).toBe(h.aAddress);
        expect(h.b.ipv4.config().address).toBe(h.bAddress);
      }),
      timeout,
    );
  });
}
