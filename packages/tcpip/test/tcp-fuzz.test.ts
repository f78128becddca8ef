// Property tests: random, structured and mutated segments fed into an engine
// holding a connection in each state. Nothing may escape as an exception
// (the engine counts internal errors, which must stay zero), memory stays
// bounded, and the engine still works afterwards.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Connection } from "../src/tcp/connection.js";
import type { TcpInstance } from "../src/tcp/index.js";
import { emitSegment, FIN, fillChecksum, RST, SYN, type TcpSegmentRepr } from "../src/tcp/wire.js";
import { A, B, C, capture, createPair, establish, inject, type Pair, text } from "./tcp-link.js";

const MS = 1e6;

interface Target {
  pair: Pair;
  engine: TcpInstance;
  self: number;
  peer: number;
  localPort: number;
  remotePort: number;
  conn: Connection | undefined;
  /** Real segments seen during setup, to mutate. */
  samples: Uint8Array[];
}

type StateName =
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

async function reach(state: StateName, timestamps: boolean, seed: number): Promise<Target> {
  const pair = createPair({
    seed,
    configA: { timestamps },
    configB: { timestamps },
    impairments: { delayNs: 2 * MS },
  });
  const samples: Uint8Array[] = [];
  pair.link.tap = (_s, _d, seg) => {
    if (samples.length < 64) samples.push(seg.slice());
  };
  const clientTarget = (conn: Connection): Target => ({
    pair,
    engine: pair.a,
    self: A,
    peer: B,
    localPort: conn.localPort,
    remotePort: conn.remotePort,
    conn,
    samples,
  });
  if (state === "LISTEN" || state === "SYN-RECEIVED") {
    pair.b.tcp.listen(80, () => {});
    if (state === "SYN-RECEIVED") {
      pair.link.filter = (_s, dst) => dst === C;
      inject(pair, C, B, { srcPort: 4000, dstPort: 80, seq: 77, flags: SYN, mss: 1200 });
    }
    const conn = [...pair.b.engine.connections()][0];
    return {
      pair,
      engine: pair.b,
      self: B,
      peer: C,
      localPort: 80,
      remotePort: 4000,
      conn,
      samples,
    };
  }
  if (state === "SYN-SENT") {
    pair.link.impairments.down = true;
    pair.a.tcp.connect("10.0.0.2", 80).catch(() => {});
    await pair.world.advance(1 * MS);
    return clientTarget([...pair.a.engine.connections()][0]!);
  }
  const { client, server } = await establish(pair);
  await pair.world.run(client.write(text("some data to start with")));
  await pair.world.run(server.write(new Uint8Array(5000)));
  await pair.world.advance(100 * MS);
  await pair.world.run(server.read());
  await pair.world.run(client.read());
  const c = client.connection;
  switch (state) {
    case "ESTABLISHED":
      break;
    case "FIN-WAIT-1":
      pair.link.impairments.down = true;
      void client.shutdown().catch(() => {});
      await pair.world.advance(1 * MS);
      break;
    case "FIN-WAIT-2":
      await pair.world.run(client.shutdown());
      break;
    case "CLOSE-WAIT":
      await pair.world.run(server.shutdown());
      await pair.world.advance(10 * MS);
      break;
    case "LAST-ACK":
      await pair.world.run(server.shutdown());
      await pair.world.advance(10 * MS);
      pair.link.impairments.down = true;
      void client.shutdown().catch(() => {});
      await pair.world.advance(1 * MS);
      break;
    case "CLOSING":
      pair.link.filter = (_s, _d, seg) => seg[13] === 0x10 && seg.length === (seg[12]! >> 4) << 2;
      void client.shutdown().catch(() => {});
      void server.shutdown().catch(() => {});
      await pair.world.advance(5 * MS);
      break;
    case "TIME-WAIT":
      await pair.world.run(client.shutdown());
      await pair.world.run(server.close());
      await pair.world.advance(10 * MS);
      break;
  }
  expect(c.stateName).toBe(state);
  return clientTarget(c);
}

const flagsArb = fc.oneof(
  fc.nat(255),
  fc.constantFrom(SYN, RST, FIN, 0x10, 0x18, 0x11, SYN | 0x10, RST | 0x10, 0),
);

/** A segment description relative to the target's connection. */
const structuredArb = fc.record({
  seqOffset: fc.oneof(fc.integer({ min: -70_000, max: 300_000 }), fc.nat()),
  ackOffset: fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.nat()),
  flags: flagsArb,
  window: fc.nat(65535),
  payload: fc.uint8Array({ maxLength: 3000 }),
  mss: fc.option(fc.nat(65535), { nil: undefined }),
  wscale: fc.option(fc.nat(255), { nil: undefined }),
  sackPermitted: fc.boolean(),
  ts: fc.option(fc.tuple(fc.integer({ min: -1000, max: 100_000 }), fc.nat()), { nil: undefined }),
  sack: fc.option(
    fc.array(
      fc.tuple(fc.integer({ min: -5000, max: 300_000 }), fc.integer({ min: 0, max: 20_000 })),
      {
        maxLength: 4,
      },
    ),
    { nil: undefined },
  ),
  rawOptions: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
});

type Structured = typeof structuredArb extends fc.Arbitrary<infer T> ? T : never;

function build(t: Target, s: Structured): Uint8Array {
  const c = t.conn;
  const rcvNxt = c?.rcvNxt ?? 0;
  const sndNxt = c?.sndNxt ?? 0;
  const repr: TcpSegmentRepr = {
    srcPort: t.remotePort,
    dstPort: t.localPort,
    seq: (rcvNxt + s.seqOffset) >>> 0,
    ack: (sndNxt + s.ackOffset) >>> 0,
    flags: s.flags,
    window: s.window,
    urgent: 0,
    payload: s.payload,
  };
  if (s.mss !== undefined) repr.mss = s.mss;
  if (s.wscale !== undefined) repr.wscale = s.wscale;
  if (s.sackPermitted) repr.sackPermitted = true;
  if (s.ts !== undefined)
    repr.timestamp = { tsVal: ((c?.tsRecent ?? 0) + s.ts[0]) >>> 0, tsEcr: s.ts[1] };
  if (s.sack !== undefined && s.sack.length > 0 && s.ts === undefined)
    repr.sack = s.sack.map(([l, n]) => [(sndNxt + l) >>> 0, (sndNxt + l + n) >>> 0]);
  let bytes = emitSegment(repr, t.peer, t.self);
  if (s.rawOptions !== undefined && s.rawOptions.length > 0) {
    // Replace the options with arbitrary (often malformed) bytes.
    const optLen = (s.rawOptions.length + 3) & ~3;
    const out = new Uint8Array(20 + optLen + s.payload.length);
    out.set(bytes.subarray(0, 20));
    out.set(s.rawOptions, 20);
    out.set(s.payload, 20 + optLen);
    out[12] = ((20 + optLen) >> 2) << 4;
    fillChecksum(out, 0, out.length, t.peer, t.self);
    bytes = out;
  }
  return bytes;
}

function mutate(sample: Uint8Array, flips: number[], cut: number, fix: boolean, t: Target) {
  const b = sample.slice(0, Math.max(0, sample.length - cut));
  for (const f of flips) if (b.length > 0) b[f % b.length]! ^= 1 << (f & 7);
  if (fix && b.length >= 20) fillChecksum(b, 0, b.length, t.peer, t.self);
  return b;
}

const segmentArb = fc.oneof(
  { weight: 6, arbitrary: structuredArb.map((s) => ({ kind: "structured" as const, s })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        index: fc.nat(),
        flips: fc.array(fc.nat(), { maxLength: 6 }),
        cut: fc.nat(30),
        fix: fc.boolean(),
      })
      .map((m) => ({ kind: "mutated" as const, m })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ bytes: fc.uint8Array({ maxLength: 80 }), fix: fc.boolean() })
      .map((r) => ({ kind: "random" as const, r })),
  },
);

function checkBounded(t: Target): void {
  const e = t.engine.engine;
  expect(t.engine.stats.internalErrors).toBe(0);
  expect(e.connectionCount).toBeLessThanOrEqual(e.config.synBacklog + 4);
  for (const c of e.connections()) {
    expect(c.sendRing.storageBytes).toBeLessThanOrEqual(c.sendRing.capacity);
    expect(c.recvRing.storageBytes).toBeLessThanOrEqual(c.recvRing.capacity);
    expect(c.ooo?.count ?? 0).toBeLessThanOrEqual(e.config.reassemblyRanges);
    expect(c.scoreboard?.count ?? 0).toBeLessThanOrEqual(e.config.scoreboardRanges);
    expect(c.recvRing.length).toBeLessThanOrEqual(c.recvRing.capacity);
  }
}

const states: StateName[] = [
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

describe("tcp: fuzzing every state", () => {
  for (const state of states) {
    it(`${state}: random and mutated segments never throw and never grow memory`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(segmentArb, { minLength: 1, maxLength: 25 }),
          fc.boolean(),
          fc.nat(1000),
          async (segments, timestamps, seed) => {
            const t = await reach(state, timestamps, seed);
            for (const item of segments) {
              let bytes: Uint8Array;
              if (item.kind === "structured") bytes = build(t, item.s);
              else if (item.kind === "mutated")
                bytes =
                  t.samples.length === 0
                    ? new Uint8Array(0)
                    : mutate(
                        t.samples[item.m.index % t.samples.length]!,
                        item.m.flips,
                        item.m.cut,
                        item.m.fix,
                        t,
                      );
              else {
                bytes = item.r.bytes.slice();
                if (item.r.fix && bytes.length >= 20)
                  fillChecksum(bytes, 0, bytes.length, t.peer, t.self);
              }
              t.engine.upper.receive(t.peer, t.self, bytes);
              checkBounded(t);
            }
            // Let every timer run out: retransmissions, TIME-WAIT, keepalive, ...
            await t.pair.world.advance(600_000 * MS);
            checkBounded(t);
            expect(t.pair.a.stats.internalErrors + t.pair.b.stats.internalErrors).toBe(0);
          },
        ),
        {
          numRuns: Number(process.env.TCP_FUZZ_RUNS ?? 25),
          seed: Number(process.env.TCP_FUZZ_SEED ?? 42) + states.indexOf(state),
        },
      );
    });
  }

  it("after a storm of garbage the engine still serves a new connection", async () => {
    const t = await reach("ESTABLISHED", true, 7);
    const garbage = fc.sample(segmentArb, { numRuns: 2000, seed: 9 });
    for (const item of garbage) {
      if (item.kind === "structured") t.engine.upper.receive(t.peer, t.self, build(t, item.s));
    }
    checkBounded(t);
    const { pair } = t;
    pair.link.filter = undefined;
    pair.link.impairments.down = false;
    pair.b.tcp.listen(9, async (flow) => {
      const d = await flow.read();
      if (d) await flow.write(d);
      await flow.close();
    });
    const log = capture(pair.link);
    const flow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 9));
    await pair.world.run(flow.write(text("alive")));
    const back = await pair.world.run(flow.read());
    expect(new TextDecoder().decode(back!)).toBe("alive");
    expect(log.length).toBeGreaterThan(0);
  });
});
