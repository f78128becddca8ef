// The Web Streams views of a Flow: readable (a byte stream, BYOB included)
// and writable (backpressure through the send buffer, close = half-close).
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { createPair, establish, sameBytes, text } from "./tcp-link.js";

function source(total: number, chunk: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const n = Math.min(chunk, total - sent);
      const c = new Uint8Array(n);
      for (let i = 0; i < n; i++) c[i] = (sent + i) & 255;
      sent += n;
      controller.enqueue(c);
    },
  });
}

async function collect(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  await readable.pipeTo(
    new WritableStream({
      write(chunk) {
        parts.push(chunk);
        n += chunk.length;
      },
    }),
  );
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe("tcp: Web Streams", () => {
  it("pipes a ReadableStream through the connection into another stream", async () => {
    const pair = createPair({ impairments: { delayNs: 1e6 } });
    const { client, server } = await establish(pair);
    const total = 1_000_000;
    const piping = source(total, 10_000).pipeTo(client.writable);
    const received = collect(server.readable);
    const [got] = await pair.world.run(Promise.all([received, piping]));
    const expected = new Uint8Array(total).map((_, i) => i & 255);
    expect(sameBytes(got, expected)).toBe(true);
    // Closing the writable half-closed the client: it can still read.
    expect(client.connection.stateName).toBe("FIN-WAIT-2");
  });

  it("supports BYOB readers", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(text("bring your own buffer")));
    const reader = server.readable.getReader({ mode: "byob" });
    const { value, done } = await pair.world.run(reader.read(new Uint8Array(64)));
    expect(done).toBe(false);
    expect(new TextDecoder().decode(value)).toBe("bring your own buffer");
    await pair.world.run(client.shutdown());
    const end = await pair.world.run(reader.read(new Uint8Array(8)));
    expect(end.done).toBe(true);
  });

  it("the writable applies backpressure from the send buffer", async () => {
    const pair = createPair({
      configA: { sendBufferSize: 16 * 1024 },
      configB: { receiveBufferSize: 16 * 1024 },
    });
    const { client } = await establish(pair);
    const writer = client.writable.getWriter();
    let accepted = 0;
    const pump = (async () => {
      for (let i = 0; i < 100; i++) {
        await writer.write(new Uint8Array(4096));
        accepted += 4096;
      }
    })();
    pump.catch(() => {});
    await pair.world.advance(1e9);
    expect(accepted).toBeLessThan(100 * 4096);
    expect(accepted).toBeLessThanOrEqual(16 * 1024 * 2 + 8192);
  });

  it("a reset errors the readable with ATOLL_TCP_RESET; aborting the writable resets the peer", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    const reading = server.readable.getReader().read();
    await client.writable.abort(new Error("stop"));
    await expect(pair.world.run(reading)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
  });

  it("cancelling the readable discards further data and keeps the window open", async () => {
    const pair = createPair({ configB: { receiveBufferSize: 8192 } });
    const { client, server } = await establish(pair);
    await server.readable.cancel();
    await pair.world.run(client.write(new Uint8Array(200_000)));
    await pair.world.run(client.shutdown());
    expect(server.connection.readable).toBe(0);
  });
});
