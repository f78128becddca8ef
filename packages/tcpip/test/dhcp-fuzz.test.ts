// Untrusted input to the DHCP client: malformed and unusable replies are
// counted and dropped without changing state, and random or mutated replies
// in every state never throw, never wedge the client, and never configure
// an unusable address.

import { parseIpv4 } from "@atoll/core";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { DhcpState } from "../src/dhcp/client.js";
import {
  BootpOp,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOption,
  emitDhcp,
  uint32Option,
} from "../src/dhcp/wire.js";
import { type DhcpWorld, dhcpWorld } from "./support/dhcp-world.js";
import { ip } from "./support/frames.js";

const S = 1e9;
let w: DhcpWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function waitFor(world: DhcpWorld, condition: () => boolean): Promise<void> {
  await world.run(
    (async () => {
      while (!condition()) await world.time.timers.sleep(10e6);
    })(),
  );
}

describe("DHCP client: malformed replies", () => {
  it("drops malformed and unusable OFFERs and ACKs, then accepts a good one", async () => {
    w = dhcpWorld(60);
    const { server, client } = w;
    server.policy = () => "ignore";
    await waitFor(w, () => server.seen.length > 0);
    const discover = server.last!.message;
    const reply = (type: DhcpMessageType, yiaddr = ip("10.0.0.100"), extra = {}) =>
      emitDhcp({
        op: BootpOp.REPLY,
        xid: discover.xid,
        yiaddr,
        chaddr: discover.chaddr,
        type,
        options: [
          [DhcpOption.SERVER_ID, uint32Option(ip("10.0.0.1"))],
          [DhcpOption.LEASE_TIME, uint32Option(600)],
        ],
        ...extra,
      });
    const good = reply(DhcpMessageType.OFFER);
    const malformed: Uint8Array[] = [
      good.subarray(0, 200), // truncated
      good.map((b, i) => (i === 236 ? 0 : b)), // cookie
      good.map((b, i) => (i === 1 ? 6 : b)), // not Ethernet
      good.map((b, i) => (i === 242 ? 99 : b)), // message type 99
      new Uint8Array([...good.subarray(0, 246), 3, 250]), // an option past the end
      reply(DhcpMessageType.OFFER, 0), // no address offered
      reply(DhcpMessageType.OFFER, 0xffffffff),
      reply(DhcpMessageType.OFFER, ip("224.0.0.5")),
      reply(DhcpMessageType.OFFER, ip("127.0.0.1")),
      reply(DhcpMessageType.OFFER, ip("10.0.0.100"), { options: [] }), // no server identifier
    ];
    const ignored: Uint8Array[] = [
      emitDhcp({ op: BootpOp.REPLY, xid: discover.xid + 1, chaddr: discover.chaddr, type: 2 }),
      emitDhcp({ op: BootpOp.REPLY, xid: discover.xid, chaddr: new Uint8Array(6), type: 2 }),
      good.map((b, i) => (i === 0 ? BootpOp.REQUEST : b)), // a request, not a reply
      reply(DhcpMessageType.ACK), // an ACK while selecting
      reply(DhcpMessageType.INFORM),
    ];
    for (const bytes of [...malformed, ...ignored]) server.inject(bytes);
    await w.time.advance(1e6);
    expect(client.dhcp.state).toBe("selecting");
    expect(client.stats.dhcp.rxMalformed).toBe(malformed.length);
    expect(client.stats.dhcp.rxIgnored).toBe(ignored.length);
    expect(client.stats.dhcp.offersReceived).toBe(0);

    server.inject(good);
    await w.time.advance(1e6);
    expect(client.dhcp.state).toBe("requesting");
    const badAcks: Uint8Array[] = [
      reply(DhcpMessageType.ACK, ip("10.0.0.100"), {
        options: [[DhcpOption.SERVER_ID, uint32Option(ip("10.0.0.1"))]],
      }), // no lease time
      reply(DhcpMessageType.ACK, ip("10.0.0.100"), {
        options: [[DhcpOption.LEASE_TIME, uint32Option(0)]],
      }), // a lease of nothing
      reply(DhcpMessageType.ACK, ip("10.0.0.100"), {
        options: [
          [DhcpOption.LEASE_TIME, uint32Option(600)],
          [DhcpOption.SUBNET_MASK, uint32Option(0xff00ff00)],
        ],
      }), // a mask with holes
      reply(DhcpMessageType.ACK, ip("0.1.2.3")),
    ];
    const wrongServer = reply(DhcpMessageType.ACK, ip("10.0.0.100"), {
      options: [
        [DhcpOption.SERVER_ID, uint32Option(ip("10.0.0.9"))],
        [DhcpOption.LEASE_TIME, uint32Option(600)],
      ],
    });
    for (const bytes of [...badAcks, wrongServer]) server.inject(bytes);
    await w.time.advance(1e6);
    expect(client.dhcp.state).toBe("requesting");
    expect(client.stats.dhcp.rxMalformed).toBe(malformed.length + badAcks.length);
    expect(client.stats.dhcp.rxIgnored).toBe(ignored.length + 1);
    expect(client.ipv4.config().address).toBeUndefined();

    server.inject(
      reply(DhcpMessageType.ACK, ip("10.0.0.100"), {
        options: [
          [DhcpOption.LEASE_TIME, uint32Option(600)],
          [DhcpOption.SUBNET_MASK, uint32Option(0xffff0000)],
        ],
      }),
    );
    const lease = await w.run(client.dhcp.whenBound());
    expect(lease).toMatchObject({ address: "10.0.0.100", prefixLength: 16, server: "10.0.0.1" });
    expect(lease.leaseTimeNs).toBe(600 * S);
    expect(client.stats.dhcp.internalErrors).toBe(0);
    expect(client.stats.internalErrors).toBe(0);
  });
});

const STATES: ReadonlySet<DhcpState> = new Set([
  "init",
  "selecting",
  "requesting",
  "rebooting",
  "probing",
  "bound",
  "renewing",
  "rebinding",
]);

/** A byte-level mutation of a valid message. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

const action = fc.record({
  /** Virtual time before the message, ms. */
  delayMs: fc.nat({ max: 90_000 }),
  kind: fc.constantFrom("offer", "ack", "nak", "random"),
  mutations: fc.array(mutation, { maxLength: 4 }),
  random: fc.uint8Array({ maxLength: 400 }),
  address: fc.constantFrom("10.0.0.100", "10.0.0.150", "0.0.0.0", "255.255.255.255", "10.0.0.1"),
  leaseSeconds: fc.constantFrom(0, 1, 30, 600, 0xffffffff),
});

describe("DHCP client: fuzz", () => {
  it("survives random and mutated replies in every state, and still gets a lease", async () => {
    // What the runs reached, to show the fuzzing got somewhere.
    const reached = new Set<DhcpState>();
    const totals = { malformed: 0, naks: 0, acks: 0, conflicts: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.array(action, { maxLength: 25 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (seed, actions, answers) => {
          const world = dhcpWorld(seed, { server: { leaseSeconds: 60 } });
          try {
            const { server, client } = world;
            // Someone on the link already uses 10.0.0.150 (offered by some of the replies below).
            server.claims.add(ip("10.0.0.150"));
            // The server answers some messages and not others, so that every state lasts a while.
            server.policy = () =>
              answers[server.seen.length % answers.length] ? "answer" : "ignore";
            for (const a of actions) {
              await world.time.advance(a.delayMs * 1e6);
              const last: DhcpMessage | undefined = server.last?.message;
              let bytes: Uint8Array;
              if (a.kind === "random" || last === undefined) {
                bytes = a.random;
              } else {
                const type =
                  a.kind === "offer"
                    ? DhcpMessageType.OFFER
                    : a.kind === "ack"
                      ? DhcpMessageType.ACK
                      : DhcpMessageType.NAK;
                const honest = server.options;
                server.options = { ...honest, leaseSeconds: a.leaseSeconds };
                bytes = server.reply(last, type, parseIpv4(a.address)!);
                server.options = honest;
                for (const m of a.mutations) {
                  if (bytes.length === 0) break;
                  const at = m.at % bytes.length;
                  if (m.kind === "flip") bytes[at]! ^= 1 << m.bit;
                  else if (m.kind === "set") bytes[at] = m.value;
                  else bytes = bytes.subarray(0, at);
                }
              }
              server.inject(bytes);
              await world.time.advance(1e6);
              expect(STATES.has(client.dhcp.state)).toBe(true);
              reached.add(client.dhcp.state);
              const address = client.ipv4.config().address;
              if (address !== undefined) {
                const n = parseIpv4(address)!;
                expect(n >>> 24).not.toBe(0);
                expect(n >>> 24).toBeLessThan(224);
                expect(client.dhcp.lease?.address).toBe(address);
              }
            }
            expect(client.stats.dhcp.internalErrors).toBe(0);
            expect(client.stats.internalErrors).toBe(0);
            totals.malformed += client.stats.dhcp.rxMalformed;
            totals.naks += client.stats.dhcp.naksReceived;
            totals.acks += client.stats.dhcp.acksReceived;
            totals.conflicts += client.stats.dhcp.conflicts;
            // Whatever happened, an honest server still gets the client (back) to a lease.
            server.policy = () => "answer";
            const lease = await world.run(client.dhcp.whenBound(), 3600 * S);
            expect(lease.address).toMatch(/^10\.0\.0\./);
          } catch (error) {
            console.error(`DHCP fuzz failed with seed ${seed}`);
            throw error;
          } finally {
            await world.close();
          }
        },
      ),
      { numRuns: 60, seed: Number(process.env.ATOLL_TEST_SEED ?? 4242) },
    );
    for (const state of ["selecting", "requesting", "probing", "bound", "renewing", "rebinding"])
      expect(reached, state).toContain(state);
    for (const [name, count] of Object.entries(totals)) expect(count, name).toBeGreaterThan(0);
  }, 60_000);
});
