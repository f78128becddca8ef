// Closing: every state on the way down (RFC 9293 figures 12 and 13), TIME-WAIT
// and its duration, half-close in both directions, close with unread data,
// abort, orphaned FIN-WAIT-2, and TIME-WAIT reuse by a new SYN.
import { isAtollError } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { ACK, FIN, RST, SYN } from "../src/tcp/wire.js";
import {
  A,
  B,
  capture,
  createPair,
  establish,
  inject,
  readAll,
  sameBytes,
  text,
  untext,
} from "./tcp-link.js";

const S = 1e9;

describe("tcp: closing", () => {
  it("active close walks FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT; passive close CLOSE-WAIT, LAST-ACK, CLOSED", async () => {
    const pair = createPair({ impairments: { delayNs: 10e6 }, configA: { timeWaitNs: 30 * S } });
    const { client, server } = await establish(pair);
    const c = client.connection;
    const s = server.connection;
    const shut = client.shutdown();
    expect(c.stateName).toBe("FIN-WAIT-1");
    await pair.world.advance(10e6); // FIN arrives
    expect(s.stateName).toBe("CLOSE-WAIT");
    expect(await pair.world.run(server.read())).toBe(null);
    await pair.world.advance(10e6); // its ACK arrives (the server ACKs at once)
    expect(c.stateName).toBe("FIN-WAIT-2");
    await pair.world.run(shut);
    // The server sends the rest and closes.
    await pair.world.run(server.write(text("bye")));
    const closing = server.close();
    expect(s.stateName).toBe("LAST-ACK");
    expect(untext(await pair.world.run(client.read()))).toBe("bye");
    expect(await pair.world.run(client.read())).toBe(null);
    expect(c.stateName).toBe("TIME-WAIT");
    await pair.world.run(closing);
    expect(s.stateName).toBe("CLOSED");
    await pair.world.run(client.closed);
    // TIME-WAIT lasts timeWaitNs, then the connection is gone.
    const enteredAt = pair.world.now();
    expect(pair.a.engine.timeWaitCount).toBe(1);
    await pair.world.advance(29.9 * S);
    expect(pair.a.engine.connectionCount).toBe(1);
    await pair.world.advance(0.2 * S);
    expect(pair.a.engine.connectionCount).toBe(0);
    expect(c.stateName).toBe("CLOSED");
    expect(pair.world.now() - enteredAt).toBeGreaterThanOrEqual(30 * S);
    expect(pair.b.engine.connectionCount).toBe(0);
  });

  it("simultaneous close: FIN-WAIT-1 → CLOSING → TIME-WAIT on both ends", async () => {
    const pair = createPair({ impairments: { delayNs: 10e6 } });
    const { client, server } = await establish(pair);
    const log = capture(pair.link);
    const c1 = client.close();
    const c2 = server.close();
    await pair.world.advance(1e6);
    expect(client.connection.stateName).toBe("FIN-WAIT-1");
    expect(server.connection.stateName).toBe("FIN-WAIT-1");
    await pair.world.advance(10e6); // both FINs cross
    expect(client.connection.stateName).toBe("CLOSING");
    expect(server.connection.stateName).toBe("CLOSING");
    await pair.world.run(Promise.all([c1, c2]));
    expect(client.connection.stateName).toBe("TIME-WAIT");
    expect(server.connection.stateName).toBe("TIME-WAIT");
    expect(log.filter((x) => x.seg.flags & FIN)).toHaveLength(2);
    expect(log.some((x) => x.seg.flags & RST)).toBe(false);
  });

  it("half-close, client side: the client shuts down and still reads everything the server sends", async () => {
    const pair = createPair({ impairments: { delayNs: 2e6 } });
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(text("request")));
    await pair.world.run(client.shutdown());
    await expect(client.write(text("more"))).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_CLOSED"),
    );
    expect(untext(await pair.world.run(readAll(server)))).toBe("request");
    const big = new Uint8Array(300_000).map((_, i) => i & 255);
    const sending = (async () => {
      await server.write(big);
      await server.close();
    })();
    const got = await pair.world.run(readAll(client));
    await pair.world.run(sending);
    expect(sameBytes(got, big)).toBe(true);
    await pair.world.run(client.close());
  });

  it("half-close, server side: the server shuts down and keeps reading the client's data", async () => {
    const pair = createPair({ impairments: { delayNs: 2e6 } });
    const { client, server } = await establish(pair);
    await pair.world.run(server.shutdown());
    expect(await pair.world.run(client.read())).toBe(null);
    expect(client.connection.stateName).toBe("CLOSE-WAIT");
    const big = new Uint8Array(500_000).map((_, i) => (i * 7) & 255);
    const sending = (async () => {
      await client.write(big);
      await client.close();
    })();
    const got = await pair.world.run(readAll(server));
    await pair.world.run(sending);
    expect(sameBytes(got, big)).toBe(true);
    expect(server.connection.stateName).toBe("TIME-WAIT");
  });

  it("close() with unread data sends RST (RFC 2525 §2.17); the peer sees ATOLL_TCP_RESET", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(text("unread")));
    await pair.world.advance(50e6);
    const log = capture(pair.link);
    await pair.world.run(server.close());
    expect(log.some((x) => x.seg.flags & RST)).toBe(true);
    await expect(pair.world.run(client.read())).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
    await expect(client.write(text("x"))).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
    expect(pair.a.engine.connectionCount).toBe(0);
    expect(pair.b.engine.connectionCount).toBe(0);
  });

  it("abort() resets at once; pending reads on both ends reject", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    const pendingServer = server.read();
    const pendingClient = client.read();
    client.abort();
    await expect(pendingClient).rejects.toSatisfy((e) => isAtollError(e, "ATOLL_TCP_CLOSED"));
    await expect(pair.world.run(pendingServer)).rejects.toSatisfy((e) =>
      isAtollError(e, "ATOLL_TCP_RESET"),
    );
    await pair.world.run(Promise.all([client.closed, server.closed]));
    expect(pair.b.stats.resetsReceived).toBe(1);
  });

  it("data received before a reset is still delivered, then the error", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(client.write(text("last words")));
    await pair.world.advance(10e6);
    client.abort();
    await pair.world.advance(10e6);
    expect(untext(await server.read())).toBe("last words");
    await expect(server.read()).rejects.toSatisfy((e) => isAtollError(e, "ATOLL_TCP_RESET"));
  });

  it("an orphaned FIN-WAIT-2 (peer never closes) is dropped after finWait2TimeoutNs", async () => {
    const pair = createPair({ configA: { finWait2TimeoutNs: 5 * S } });
    const { client, server } = await establish(pair);
    await pair.world.run(client.close());
    expect(client.connection.stateName).toBe("FIN-WAIT-2");
    expect(server.connection.stateName).toBe("CLOSE-WAIT");
    await pair.world.advance(4.9 * S);
    expect(pair.a.engine.connectionCount).toBe(1);
    await pair.world.advance(0.2 * S);
    expect(pair.a.engine.connectionCount).toBe(0);
  });

  it("TIME-WAIT answers a retransmitted FIN with an ACK and restarts 2·MSL", async () => {
    const pair = createPair({ configA: { timeWaitNs: 10 * S } });
    const { client, server } = await establish(pair);
    await pair.world.run(client.shutdown());
    // Drop the client's last ACK so the server retransmits its FIN.
    pair.link.filter = (src, _dst, seg) => src === A && seg[13] === ACK;
    await pair.world
      .run(
        server.close().catch(() => {}),
        { maxNs: 0.1 * S },
      )
      .catch(() => {});
    await pair.world.advance(0.1 * S);
    expect(client.connection.stateName).toBe("TIME-WAIT");
    const log = capture(pair.link);
    pair.link.filter = undefined;
    await pair.world.run(server.closed);
    const retransmittedFin = log.find((x) => x.src === B && x.seg.flags & FIN)!;
    const ackOfIt = log.find((x) => x.src === A && x.at >= retransmittedFin.at)!;
    expect(ackOfIt.seg.flags).toBe(ACK);
    // 2·MSL counts from the retransmitted FIN.
    await pair.world.advance(retransmittedFin.at + 9.9 * S - pair.world.now());
    expect(pair.a.engine.timeWaitCount).toBe(1);
    await pair.world.advance(0.2 * S);
    expect(pair.a.engine.timeWaitCount).toBe(0);
  });

  it("RSTs in TIME-WAIT are ignored (RFC 1337)", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(client.shutdown());
    await pair.world.run(server.close());
    await pair.world.advance(10e6);
    const c = client.connection;
    expect(c.stateName).toBe("TIME-WAIT");
    inject(pair, B, A, {
      srcPort: c.remotePort,
      dstPort: c.localPort,
      seq: c.rcvNxt,
      flags: RST,
    });
    expect(c.stateName).toBe("TIME-WAIT");
  });

  it("a new SYN with a higher sequence number reuses a four-tuple in TIME-WAIT (RFC 6191)", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair, 80, {}, { localPort: 5555 });
    // The server closes first, so the server holds TIME-WAIT.
    await pair.world.run(server.shutdown());
    await pair.world.run(client.read());
    await pair.world.run(client.close());
    await pair.world.advance(10e6);
    expect(server.connection.stateName).toBe("TIME-WAIT");
    await pair.world.advance(1 * S); // the client's ISN clock moves on
    const again = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 80, { localPort: 5555 }));
    expect(again.localPort).toBe(5555);
    expect(pair.b.engine.timeWaitCount).toBe(0);
  });

  it("a closed connection is forgotten: reads reject, closed resolves, nothing leaks", async () => {
    const pair = createPair();
    const { client, server } = await establish(pair);
    await pair.world.run(Promise.all([client.close(), server.close()]));
    await pair.world.run(Promise.all([client.closed, server.closed]));
    await expect(client.read()).rejects.toSatisfy((e) => isAtollError(e, "ATOLL_TCP_CLOSED"));
    await pair.world.runUntilIdle();
    expect(pair.a.engine.connectionCount + pair.b.engine.connectionCount).toBe(0);
    expect(pair.world.pendingTimers).toBe(0);
  });

  it("SYN to a listener that is unlistened while half-open: the half-open connection goes away", async () => {
    const pair = createPair();
    pair.b.tcp.listen(80, () => {});
    pair.link.filter = (_s, dst) => dst === A;
    inject(pair, A, B, { srcPort: 1234, dstPort: 80, seq: 5, flags: SYN });
    expect(pair.b.engine.connectionCount).toBe(1);
    pair.b.tcp.unlisten(80);
    expect(pair.b.engine.connectionCount).toBe(0);
  });
});
