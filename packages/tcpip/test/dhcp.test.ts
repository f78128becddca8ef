// The DHCP client against a scripted server on the memory switch, under
// virtual time: every state of RFC 2131's machine, the timers, NAKs,
// INIT-REBOOT, probing and DECLINE, and replies that must be dropped.

import { VirtualTime } from "@atoll/clock";
import { createUnikernel, isAtollError } from "@atoll/core";
import { seededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import { afterEach, describe, expect, it } from "vitest";
import {
  BootpOp,
  DHCP_FLAG_BROADCAST,
  DhcpMessageType,
  DhcpOption,
  emitDhcp,
  optionUint32,
  uint32Option,
} from "../src/dhcp/wire.js";
import { type DhcpLease, Stack } from "../src/signature.js";
import { direct } from "../src/stack.js";
import { ScriptedDhcpServer } from "./support/dhcp-server.js";
import { type DhcpWorld, dhcpWorld } from "./support/dhcp-world.js";
import { arpFrame, ip } from "./support/frames.js";

const S = 1e9;
let w: DhcpWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const probesFor = (world: DhcpWorld, address: string) =>
  world.server.arps.filter((a) => a.senderIp === 0 && a.targetIp === ip(address));
const announcementsOf = (world: DhcpWorld, address: string) =>
  world.server.arps.filter((a) => a.senderIp === ip(address) && a.targetIp === ip(address));

describe("DHCP client: acquiring a lease", () => {
  it("goes DISCOVER, OFFER, REQUEST, ACK, probes the address, then binds it", async () => {
    w = dhcpWorld(1, { server: { mtu: 1400 } });
    const { server, client } = w;
    expect(client.dhcp.state).toBe("init");
    expect(client.ipv4.config().address).toBeUndefined();
    const lease = await w.run(client.dhcp.whenBound());
    const boundAt = w.time.now();

    expect(lease).toEqual({
      address: "10.0.0.100",
      prefixLength: 24,
      gateway: "10.0.0.1",
      dnsServers: ["10.0.0.53", "10.0.0.54"],
      server: "10.0.0.1",
      mtu: 1400,
      leaseTimeNs: 3600 * S,
      renewalTimeNs: 1800 * S,
      rebindingTimeNs: 3150 * S,
      boundAt: lease.boundAt,
    });
    expect(client.dhcp.state).toBe("bound");
    expect(client.ipv4.lease()).toBe(lease);
    expect(client.ipv4.config()).toEqual({
      address: "10.0.0.100",
      prefixLength: 24,
      gateway: "10.0.0.1",
    });
    expect(w.changes).toHaveLength(1);
    expect(w.changes[0]!.lease).toBe(lease);
    // Option 26 applies: segments and datagrams are sized for the leased MTU.
    expect(client.interface.mtu).toBe(1400);
    expect(client.interface.maxSegmentSize(ip("10.0.0.7"))).toBe(1380);

    const [discover, request, ...rest] = server.seen;
    expect(rest).toHaveLength(0);
    const mac = client.interface.mac;
    for (const seen of [discover!, request!]) {
      expect(seen).toMatchObject({ srcIp: 0, dstIp: 0xffffffff, srcPort: 68, broadcastMac: true });
      expect(seen.message.op).toBe(BootpOp.REQUEST);
      expect(seen.message.ciaddr).toBe(0);
      expect(seen.message.flags & DHCP_FLAG_BROADCAST).toBe(DHCP_FLAG_BROADCAST);
      expect([...seen.message.chaddr]).toEqual([...mac]);
      expect([...seen.message.options.get(DhcpOption.CLIENT_ID)!]).toEqual([1, ...mac]);
      const wanted = [...seen.message.options.get(DhcpOption.PARAMETER_REQUEST_LIST)!];
      for (const code of [1, 3, 6, 26, 51, 58, 59]) expect(wanted).toContain(code);
    }
    expect(discover!.message.type).toBe(DhcpMessageType.DISCOVER);
    expect(discover!.message.options.has(DhcpOption.SERVER_ID)).toBe(false);
    expect(request!.message.type).toBe(DhcpMessageType.REQUEST);
    expect(request!.message.xid).toBe(discover!.message.xid);
    expect(optionUint32(request!.message.options, DhcpOption.REQUESTED_ADDRESS)).toBe(
      ip("10.0.0.100"),
    );
    expect(optionUint32(request!.message.options, DhcpOption.SERVER_ID)).toBe(ip("10.0.0.1"));
    // The first message waits a random time below a second (RFC 2131 §4.4.1).
    expect(discover!.at).toBeLessThan(1 * S);
    // Lease times count from the REQUEST.
    expect(lease.boundAt).toBe(request!.at);

    // RFC 5227 §2.1.1: three probes (sender 0.0.0.0), 1-2 s apart after 0-1 s, then 2 s of quiet.
    const probes = probesFor(w, "10.0.0.100");
    expect(probes).toHaveLength(3);
    expect(probes[0]!.at - request!.at).toBeLessThanOrEqual(1 * S);
    for (let i = 1; i < 3; i++) {
      const gap = probes[i]!.at - probes[i - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(1 * S);
      expect(gap).toBeLessThanOrEqual(2 * S);
    }
    expect(boundAt - probes[2]!.at).toBe(2 * S);
    expect(announcementsOf(w, "10.0.0.100")).toHaveLength(1);
    await w.time.advance(3 * S);
    expect(announcementsOf(w, "10.0.0.100")).toHaveLength(2);

    expect(client.stats.dhcp).toMatchObject({
      discoversSent: 1,
      requestsSent: 1,
      offersReceived: 1,
      acksReceived: 1,
      leasesBound: 1,
      rxMalformed: 0,
      internalErrors: 0,
    });

    // The address works: a peer pings it and connects to it.
    const peer = w.peer("10.0.0.7/24");
    const pong = await w.run(peer.icmp.ping("10.0.0.100"));
    expect(pong.address).toBe("10.0.0.100");
    client.tcp.listen(80, (flow) => void flow.close());
    const flow = await w.run(peer.tcp.connect("10.0.0.100", 80));
    expect(flow.remoteAddress).toBe("10.0.0.100");
    await w.run(flow.close());
  });

  it("applies the MTU option within the link's MTU, and restores the link's when the lease goes", async () => {
    w = dhcpWorld(5, { server: { mtu: 9000 } });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.mtu).toBe(9000);
    expect(w.client.interface.mtu).toBe(1500); // never above the Netif's
    w.client.interface.setMtu(576);
    expect(w.client.interface.mtu).toBe(576);
    await w.run(w.client.dhcp.release());
    expect(w.client.interface.mtu).toBe(1500);
  });

  it("retransmits DISCOVER after 4, 8, 16, 32, 64, 64 s, each ±1 s from Random, with one xid", async () => {
    const gapsFor = async (seed: number) => {
      const world = dhcpWorld(seed);
      world.server.policy = (m) =>
        m.type === DhcpMessageType.DISCOVER && world.server.messages(m.type).length <= 6
          ? "ignore"
          : "answer";
      await world.run(world.client.dhcp.whenBound());
      const discovers = world.server.messages(DhcpMessageType.DISCOVER);
      await world.close();
      return discovers;
    };
    const discovers = await gapsFor(7);
    expect(discovers).toHaveLength(7);
    const gaps = discovers.slice(1).map((d, i) => d.at - discovers[i]!.at);
    [4, 8, 16, 32, 64, 64].forEach((base, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual((base - 1) * S);
      expect(gaps[i]).toBeLessThanOrEqual((base + 1) * S);
    });
    expect(new Set(discovers.map((d) => d.message.xid)).size).toBe(1);
    // secs: whole seconds since the first DISCOVER.
    for (const d of discovers)
      expect(d.message.secs).toBe(Math.floor((d.at - discovers[0]!.at) / S));
    // Reproducible from the seed; another seed draws other waits and another xid.
    const again = await gapsFor(7);
    expect(again.map((d) => d.at)).toEqual(discovers.map((d) => d.at));
    const other = await gapsFor(8);
    expect(other.map((d) => d.at)).not.toEqual(discovers.map((d) => d.at));
    expect(other[0]!.message.xid).not.toBe(discovers[0]!.message.xid);
  });

  it("gives up REQUESTING after four unanswered REQUESTs and starts over with a new xid", async () => {
    w = dhcpWorld(2);
    const { server, client } = w;
    let firstXid: number | undefined;
    server.policy = (m) => {
      firstXid ??= m.xid;
      return m.type === DhcpMessageType.REQUEST && m.xid === firstXid ? "ignore" : "answer";
    };
    await w.run(client.dhcp.whenBound());
    const requests = server.messages(DhcpMessageType.REQUEST);
    const stale = requests.filter((r) => r.message.xid === firstXid);
    expect(stale).toHaveLength(4);
    const discovers = server.messages(DhcpMessageType.DISCOVER);
    expect(discovers).toHaveLength(2);
    expect(discovers[1]!.message.xid).not.toBe(firstXid);
    // The new DISCOVER comes after the fourth REQUEST's wait (32 ± 1 s).
    const wait = discovers[1]!.at - stale[3]!.at;
    expect(wait).toBeGreaterThanOrEqual(31 * S);
    expect(wait).toBeLessThanOrEqual(33 * S);
    expect(client.stats.dhcp.retransmissions).toBe(3);
    expect(client.dhcp.state).toBe("bound");
  });

  it("takes the first offer when several servers answer, and asks that one", async () => {
    w = dhcpWorld(3);
    const second = new ScriptedDhcpServer(w.switch.attach(), () => w!.time.now(), {
      address: "10.0.0.2",
      pool: ["10.0.0.200"],
    });
    const lease = await w.run(w.client.dhcp.whenBound());
    const request = w.server.messages(DhcpMessageType.REQUEST)[0]!;
    const chosen = optionUint32(request.message.options, DhcpOption.SERVER_ID);
    expect(lease.server).toBe(chosen === ip("10.0.0.1") ? "10.0.0.1" : "10.0.0.2");
    expect(lease.address).toBe(chosen === ip("10.0.0.1") ? "10.0.0.100" : "10.0.0.200");
    // The server not chosen saw the REQUEST naming the other and gave its offer up.
    expect(second.messages(DhcpMessageType.REQUEST)).toHaveLength(1);
  });

  it("uses the classful mask without option 1, ignores routers off the subnet, and bad T1/T2", async () => {
    w = dhcpWorld(4, {
      server: {
        mask: "255.255.255.0",
        routers: ["192.168.9.1", "10.0.0.1"],
        renewalSeconds: 500,
        rebindingSeconds: 400,
      },
    });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.gateway).toBe("10.0.0.1");
    // T1 > T2: T1 falls back to half the lease, capped at T2.
    expect(lease.rebindingTimeNs).toBe(400 * S);
    expect(lease.renewalTimeNs).toBe(400 * S);

    const world = dhcpWorld(5, { server: { rebindingSeconds: 7200, routers: ["192.168.9.1"] } });
    world.server.reply = wrapWithout(world.server.reply.bind(world.server), DhcpOption.SUBNET_MASK);
    const other = await world.run(world.client.dhcp.whenBound());
    expect(other.prefixLength).toBe(8); // 10.0.0.0 is class A
    expect(other.gateway).toBeUndefined();
    expect(other.rebindingTimeNs).toBe(3150 * S); // T2 beyond the lease: the default
    expect(other.renewalTimeNs).toBe(1800 * S);
    await world.close();
  });

  it("keeps an infinite lease without timers", async () => {
    w = dhcpWorld(6, { server: { leaseSeconds: 0xffffffff } });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.leaseTimeNs).toBe(Number.POSITIVE_INFINITY);
    const before = w.server.seen.length;
    await w.time.advance(10 * 365 * 86400 * S);
    expect(w.server.seen.length).toBe(before);
    expect(w.client.dhcp.state).toBe("bound");
  });
});

/** Drops one option from the replies a server builds. */
function wrapWithout(
  reply: ScriptedDhcpServer["reply"],
  code: number,
): ScriptedDhcpServer["reply"] {
  return (request, type, address, extra) => {
    const bytes = reply(request, type, address, extra);
    // Rewrite the option's code to 250 (unknown, ignored).
    for (let at = 240; at < bytes.length && bytes[at] !== 255; ) {
      if (bytes[at] === 0) {
        at++;
        continue;
      }
      if (bytes[at] === code) bytes[at] = 250;
      at += 2 + bytes[at + 1]!;
    }
    return bytes;
  };
}

describe("DHCP client: keeping a lease", () => {
  it("renews at T1 by unicast to its server, without touching the interface", async () => {
    w = dhcpWorld(10, { server: { leaseSeconds: 120 } });
    const { server, client } = w;
    const lease = await w.run(client.dhcp.whenBound());
    await w.time.advance(5 * S);
    const announced = announcementsOf(w, "10.0.0.100").length;
    const before = server.seen.length;
    await w.time.advance(lease.boundAt + 60 * S - w.time.now() - 1);
    expect(server.seen.length).toBe(before);
    await w.time.advance(1);
    const renew = server.seen[before]!;
    expect(renew.at).toBe(lease.boundAt + 60 * S);
    expect(renew.message.type).toBe(DhcpMessageType.REQUEST);
    expect(renew).toMatchObject({ srcIp: ip("10.0.0.100"), dstIp: ip("10.0.0.1") });
    expect(renew.broadcastMac).toBe(false);
    expect(renew.message.ciaddr).toBe(ip("10.0.0.100"));
    expect(renew.message.flags & DHCP_FLAG_BROADCAST).toBe(0);
    expect(renew.message.options.has(DhcpOption.REQUESTED_ADDRESS)).toBe(false);
    expect(renew.message.options.has(DhcpOption.SERVER_ID)).toBe(false);
    expect(renew.message.xid).not.toBe(server.seen[0]!.message.xid);
    await w.time.advance(1e6);
    expect(client.dhcp.state).toBe("bound");
    expect(client.stats.dhcp.renewals).toBe(1);
    const renewed = client.ipv4.lease()!;
    expect(renewed.boundAt).toBe(renew.at);
    expect(renewed.address).toBe("10.0.0.100");
    expect(w.changes).toHaveLength(2);
    expect(w.changes[1]!.lease).toBe(renewed);
    expect(w.changes[1]!.config).toEqual(w.changes[0]!.config);
    expect(announcementsOf(w, "10.0.0.100")).toHaveLength(announced);
    // And again at the next T1, an hour of renewals later.
    await w.time.advance(3600 * S);
    // T1 is 60 s after each renewal: 61 renewals by boundAt + 3660 s.
    expect(client.stats.dhcp.renewals).toBe(61);
    expect(client.stats.dhcp.rebinds).toBe(0);
  });

  it("honours T1 and T2 from the server", async () => {
    w = dhcpWorld(11, { server: { leaseSeconds: 120, renewalSeconds: 10, rebindingSeconds: 20 } });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.renewalTimeNs).toBe(10 * S);
    expect(lease.rebindingTimeNs).toBe(20 * S);
    const before = w.server.seen.length;
    await w.time.advance(lease.boundAt + 10 * S - w.time.now());
    expect(w.server.seen.length).toBe(before + 1);
    expect(w.client.stats.dhcp.renewals).toBe(1);
  });

  it("retransmits renewals at half the time to T2 (at least 60 s), then rebinds by broadcast at T2", async () => {
    w = dhcpWorld(12, { server: { leaseSeconds: 1000 } });
    const { server, client } = w;
    const lease = await w.run(client.dhcp.whenBound());
    server.policy = (_m, seen) => (seen.dstIp !== 0xffffffff ? "ignore" : "answer");
    const before = server.seen.length;
    await w.time.advance(lease.boundAt + 875 * S - w.time.now() + 1e6);
    const sent = server.seen.slice(before);
    const offsets = sent.map((s) => (s.at - lease.boundAt) / S);
    // T1 = 500 s; waits max(60, (875 - t)/2): 187.5, 93.75, 60; then T2 = 875.
    expect(offsets).toEqual([500, 687.5, 781.25, 841.25, 875]);
    for (const s of sent.slice(0, 4)) expect(s.dstIp).toBe(ip("10.0.0.1"));
    const rebind = sent[4]!;
    expect(rebind).toMatchObject({
      srcIp: ip("10.0.0.100"),
      dstIp: 0xffffffff,
      broadcastMac: true,
    });
    expect(rebind.message.ciaddr).toBe(ip("10.0.0.100"));
    expect(rebind.message.options.has(DhcpOption.SERVER_ID)).toBe(false);
    expect(rebind.message.options.has(DhcpOption.REQUESTED_ADDRESS)).toBe(false);
    expect(client.dhcp.state).toBe("bound");
    expect(client.stats.dhcp.rebinds).toBe(1);
    expect(client.stats.dhcp.renewals).toBe(0);
    expect(client.ipv4.lease()!.boundAt).toBe(rebind.at);
    expect(client.ipv4.config().address).toBe("10.0.0.100");
  });

  it("removes the address when the lease expires, then starts over asking for it", async () => {
    w = dhcpWorld(13, { server: { leaseSeconds: 120 } });
    const { server, client } = w;
    const lease = await w.run(client.dhcp.whenBound());
    const peer = w.peer("10.0.0.7/24");
    await w.run(peer.icmp.ping("10.0.0.100"));
    server.policy = () => "ignore";
    const before = server.seen.length;
    await w.time.advance(lease.boundAt + 120 * S - w.time.now() - 1);
    expect(client.ipv4.config().address).toBe("10.0.0.100");
    expect(client.dhcp.state).toBe("rebinding");
    await w.time.advance(1);
    expect(client.ipv4.config().address).toBeUndefined();
    expect(client.ipv4.lease()).toBeUndefined();
    expect(client.stats.dhcp.expiries).toBe(1);
    expect(w.changes.at(-1)).toMatchObject({ at: lease.boundAt + 120 * S, lease: undefined });
    const sent = server.seen.slice(before).map((s) => [(s.at - lease.boundAt) / S, s.message.type]);
    expect(sent).toEqual([
      [60, DhcpMessageType.REQUEST], // T1
      [105, DhcpMessageType.REQUEST], // T2
      [120, DhcpMessageType.DISCOVER], // expiry: INIT at once
    ]);
    const discover = server.last!.message;
    expect(optionUint32(discover.options, DhcpOption.REQUESTED_ADDRESS)).toBe(ip("10.0.0.100"));
    expect(client.dhcp.state).toBe("selecting");
    await expect(w.run(peer.icmp.ping("10.0.0.100", { timeoutNs: S }))).rejects.toSatisfy(
      (e: unknown) => isAtollError(e, "ATOLL_NET_TIMEOUT"),
    );
    // The server comes back: the same address again.
    server.policy = () => "answer";
    const again = await w.run(client.dhcp.whenBound());
    expect(again.address).toBe("10.0.0.100");
  });
});

describe("DHCP client: NAK", () => {
  it("starts over after a NAK in REQUESTING", async () => {
    w = dhcpWorld(20);
    const { server, client } = w;
    let naked = false;
    server.policy = (m) => {
      if (m.type === DhcpMessageType.REQUEST && !naked) {
        naked = true;
        return "nak";
      }
      return "answer";
    };
    await w.run(client.dhcp.whenBound());
    const types = server.seen.map((s) => s.message.type);
    expect(types).toEqual([
      DhcpMessageType.DISCOVER,
      DhcpMessageType.REQUEST,
      DhcpMessageType.DISCOVER,
      DhcpMessageType.REQUEST,
    ]);
    // At once, with a new transaction.
    expect(server.seen[2]!.at).toBe(server.seen[1]!.at);
    expect(server.seen[2]!.message.xid).not.toBe(server.seen[1]!.message.xid);
    expect(client.stats.dhcp.naksReceived).toBe(1);
  });

  it("backs off when NAKs repeat", async () => {
    w = dhcpWorld(21);
    const { server, client } = w;
    server.policy = (m) =>
      m.type === DhcpMessageType.REQUEST && server.messages(m.type).length <= 4 ? "nak" : "answer";
    await w.run(client.dhcp.whenBound());
    const discovers = server.messages(DhcpMessageType.DISCOVER);
    const requests = server.messages(DhcpMessageType.REQUEST);
    const waits = requests.slice(0, 4).map((r, i) => (discovers[i + 1]!.at - r.at) / S);
    expect(waits).toEqual([0, 1, 2, 4]);
  });

  it("drops the address after a NAK in RENEWING and starts over", async () => {
    w = dhcpWorld(22, { server: { leaseSeconds: 100 } });
    const { server, client } = w;
    const lease = await w.run(client.dhcp.whenBound());
    server.policy = (m) => (m.ciaddr !== 0 ? "nak" : "answer");
    await w.time.advance(lease.boundAt + 50 * S - w.time.now());
    expect(client.stats.dhcp.naksReceived).toBe(1);
    expect(client.ipv4.config().address).toBeUndefined();
    expect(w.changes.at(-1)!.lease).toBeUndefined();
    const discover = server.messages(DhcpMessageType.DISCOVER)[1]!;
    expect(discover.at).toBe(lease.boundAt + 50 * S);
    // Forgotten: a NAK'ed address is not asked for again.
    expect(discover.message.options.has(DhcpOption.REQUESTED_ADDRESS)).toBe(false);
    await w.run(client.dhcp.whenBound());
    expect(client.stats.dhcp.leasesBound).toBe(2);
  });

  it("ignores a NAK naming another server, and NAKs for other transactions", async () => {
    w = dhcpWorld(23);
    const { server, client } = w;
    server.policy = (m) => (m.type === DhcpMessageType.REQUEST ? "ignore" : "answer");
    await w.run(waitFor(w, () => client.dhcp.state === "requesting"));
    const request = server.last!.message;
    const nak = (xid: number, serverId: string) =>
      emitDhcp({
        op: BootpOp.REPLY,
        xid,
        chaddr: request.chaddr,
        type: DhcpMessageType.NAK,
        options: [[DhcpOption.SERVER_ID, uint32Option(ip(serverId))]],
      });
    server.inject(nak(request.xid, "10.0.0.99"));
    server.inject(nak(request.xid + 1, "10.0.0.1"));
    await w.time.advance(1e6);
    expect(client.dhcp.state).toBe("requesting");
    expect(client.stats.dhcp.naksReceived).toBe(0);
    expect(client.stats.dhcp.rxIgnored).toBe(2);
    server.inject(nak(request.xid, "10.0.0.1"));
    await w.time.advance(1e6);
    expect(client.stats.dhcp.naksReceived).toBe(1);
    // Started over: a new DISCOVER (answered, so requesting again, in a new transaction).
    expect(server.messages(DhcpMessageType.DISCOVER)).toHaveLength(2);
    expect(server.last!.message.xid).not.toBe(request.xid);
  });
});

/** Resolves when `condition` holds (checked every 10 ms of virtual time). */
async function waitFor(world: DhcpWorld, condition: () => boolean): Promise<void> {
  while (!condition()) await world.time.timers.sleep(10e6);
}

describe("DHCP client: INIT-REBOOT", () => {
  it("remembers its lease across stop() and start() and asks for it again", async () => {
    w = dhcpWorld(30);
    const { server, client } = w;
    await w.run(client.dhcp.whenBound());
    client.dhcp.stop();
    expect(client.dhcp.state).toBe("stopped");
    expect(client.ipv4.config().address).toBeUndefined();
    expect(w.changes.at(-1)!.lease).toBeUndefined();
    const before = server.seen.length;
    client.dhcp.start();
    expect(client.dhcp.state).toBe("init-reboot");
    const lease = await w.run(client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.100");
    const [request, ...rest] = server.seen.slice(before);
    expect(rest).toHaveLength(0);
    expect(request!.message.type).toBe(DhcpMessageType.REQUEST);
    expect(request).toMatchObject({ srcIp: 0, dstIp: 0xffffffff });
    expect(request!.message.ciaddr).toBe(0);
    expect(request!.message.flags & DHCP_FLAG_BROADCAST).toBe(DHCP_FLAG_BROADCAST);
    expect(optionUint32(request!.message.options, DhcpOption.REQUESTED_ADDRESS)).toBe(
      ip("10.0.0.100"),
    );
    expect(request!.message.options.has(DhcpOption.SERVER_ID)).toBe(false);
    expect(lease.boundAt).toBe(request!.at);
    // Probed again before use.
    expect(probesFor(w, "10.0.0.100")).toHaveLength(6);
    expect(client.stats.dhcp.leasesBound).toBe(2);
  });

  it("starts in INIT-REBOOT from a lease given in the options", async () => {
    w = dhcpWorld(31, { dhcp: { previousLease: { address: "10.0.0.102" } } });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.102");
    expect(w.server.seen.map((s) => s.message.type)).toEqual([DhcpMessageType.REQUEST]);
  });

  it("falls back to DISCOVER when the server NAKs the remembered address", async () => {
    w = dhcpWorld(32, { dhcp: { previousLease: { address: "10.0.0.250" } } });
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.100");
    expect(w.server.seen.map((s) => s.message.type)).toEqual([
      DhcpMessageType.REQUEST,
      DhcpMessageType.DISCOVER,
      DhcpMessageType.REQUEST,
    ]);
    expect(w.client.stats.dhcp.naksReceived).toBe(1);
  });

  it("falls back to DISCOVER when nobody answers in REBOOTING", async () => {
    w = dhcpWorld(33, { dhcp: { previousLease: { address: "10.0.0.101" } } });
    w.server.policy = (m) =>
      m.type === DhcpMessageType.REQUEST && !m.options.has(DhcpOption.SERVER_ID)
        ? "ignore"
        : "answer";
    const lease = await w.run(w.client.dhcp.whenBound());
    const types = w.server.seen.map((s) => s.message.type);
    expect(types.slice(0, 5)).toEqual([3, 3, 3, 3, 1]);
    // Without the remembered address: the server's first free one.
    expect(lease.address).toBe("10.0.0.100");
  });

  it("rejects an unusable previous address", () => {
    expect(() => dhcpWorld(34, { dhcp: { previousLease: { address: "224.0.0.1" } } })).toThrow(
      RangeError,
    );
  });
});

describe("DHCP client: address conflicts", () => {
  it("declines an address another host answers for, waits 10 s, and takes the next", async () => {
    w = dhcpWorld(40);
    const { server, client } = w;
    server.claims.add(ip("10.0.0.100"));
    const lease = await w.run(client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.101");
    const declines = server.messages(DhcpMessageType.DECLINE);
    expect(declines).toHaveLength(1);
    const decline = declines[0]!;
    expect(decline).toMatchObject({ srcIp: 0, dstIp: 0xffffffff });
    expect(decline.message.ciaddr).toBe(0);
    expect(optionUint32(decline.message.options, DhcpOption.REQUESTED_ADDRESS)).toBe(
      ip("10.0.0.100"),
    );
    expect(optionUint32(decline.message.options, DhcpOption.SERVER_ID)).toBe(ip("10.0.0.1"));
    expect(decline.message.options.has(DhcpOption.PARAMETER_REQUEST_LIST)).toBe(false);
    // The address was never configured; the conflict was found by the first probe.
    expect(w.changes).toHaveLength(1);
    expect(w.changes[0]!.lease).toBe(lease);
    expect(probesFor(w, "10.0.0.100")).toHaveLength(1);
    const next = server.messages(DhcpMessageType.DISCOVER)[1]!;
    expect(next.at - decline.at).toBe(10 * S);
    expect(client.stats.dhcp.conflicts).toBe(1);
    expect(client.stats.dhcp.declinesSent).toBe(1);
  });

  it("treats another host probing for the same address as a conflict", async () => {
    w = dhcpWorld(41);
    const { server, client } = w;
    const other = new Uint8Array([2, 9, 9, 9, 9, 9]);
    const port = w.switch.attach({ mac: other });
    server.policy = (m) => {
      if (m.type === DhcpMessageType.REQUEST && server.messages(m.type).length === 1)
        queueMicrotask(() =>
          port.write(arpFrame(1, other, other, "0.0.0.0", new Uint8Array(6), "10.0.0.100")),
        );
      return "answer";
    };
    const lease = await w.run(client.dhcp.whenBound());
    expect(client.stats.dhcp.conflicts).toBe(1);
    expect(lease.address).toBe("10.0.0.101");
  });

  it("is not put off by unrelated ARP traffic while probing", async () => {
    w = dhcpWorld(42);
    const { server, client } = w;
    const other = new Uint8Array([2, 9, 9, 9, 9, 9]);
    const port = w.switch.attach({ mac: other });
    server.policy = (m) => {
      if (m.type === DhcpMessageType.REQUEST)
        queueMicrotask(() => {
          port.write(arpFrame(1, other, other, "10.0.0.9", new Uint8Array(6), "10.0.0.1"));
          port.write(arpFrame(1, other, other, "0.0.0.0", new Uint8Array(6), "10.0.0.101"));
          port.write(arpFrame(2, other, other, "10.0.0.9", new Uint8Array(6), "10.0.0.100"));
        });
      return "answer";
    };
    const lease = await w.run(client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.100");
    expect(client.stats.dhcp.conflicts).toBe(0);
  });

  it("binds without probing when probing is off", async () => {
    w = dhcpWorld(43, { dhcp: { arpProbe: false } });
    w.server.claims.add(ip("10.0.0.100"));
    const lease = await w.run(w.client.dhcp.whenBound());
    expect(lease.address).toBe("10.0.0.100");
    expect(probesFor(w, "10.0.0.100")).toHaveLength(0);
  });
});

describe("DHCP client: release, stop and the driver", () => {
  it("releases its lease to the server and forgets it", async () => {
    w = dhcpWorld(50);
    const { server, client } = w;
    await w.run(client.dhcp.whenBound());
    await w.run(w.client.dhcp.release());
    await w.time.advance(1e6);
    const release = server.messages(DhcpMessageType.RELEASE)[0]!;
    expect(release).toMatchObject({ srcIp: ip("10.0.0.100"), dstIp: ip("10.0.0.1") });
    expect(release.message.ciaddr).toBe(ip("10.0.0.100"));
    expect(optionUint32(release.message.options, DhcpOption.SERVER_ID)).toBe(ip("10.0.0.1"));
    expect(server.released).toEqual([ip("10.0.0.100")]);
    expect(client.ipv4.config().address).toBeUndefined();
    client.dhcp.start();
    expect(client.dhcp.state).toBe("init");
  });

  it("rejects whenBound on stop and on abort, and stops with the stack", async () => {
    w = dhcpWorld(51);
    w.server.policy = () => "ignore";
    const controller = new AbortController();
    const aborted = w.client.dhcp.whenBound(controller.signal);
    const stopped = w.client.dhcp.whenBound();
    controller.abort(new Error("enough"));
    await expect(aborted).rejects.toThrow("enough");
    w.client.dhcp.stop();
    await expect(stopped).rejects.toSatisfy((e: unknown) => isAtollError(e, "ATOLL_DISCONNECTED"));
    w.client.dhcp.start();
    await w.client.close();
    expect(w.client.dhcp.state).toBe("stopped");
    expect(w.time.pendingTimers).toBe(0);
  });

  it("lets an application observe changes and unsubscribe", async () => {
    w = dhcpWorld(52, { server: { leaseSeconds: 100 } });
    const seen: Array<DhcpLease | undefined> = [];
    const off = w.client.ipv4.onChange((_config, lease) => seen.push(lease));
    const lease = await w.run(w.client.dhcp.whenBound());
    await w.time.advance(lease.boundAt + 50 * S - w.time.now() + 1e6);
    expect(seen.map((l) => l?.boundAt)).toEqual([lease.boundAt, lease.boundAt + 50 * S]);
    off();
    await w.time.advance(50 * S);
    expect(seen).toHaveLength(2);
    // A static configure() is a change too.
    w.client.configure({ address: "10.0.0.9", prefix: 24 });
    expect(w.changes.at(-1)!.lease).toBeUndefined();
    expect(w.changes.at(-1)!.config.address).toBe("10.0.0.9");
  });

  it("does not make its port 68 the default source port of the application's datagrams", async () => {
    w = dhcpWorld(53);
    await w.run(w.client.dhcp.whenBound());
    const peer = w.peer("10.0.0.7/24");
    const ports: number[] = [];
    peer.udp.listen(9, (d) => ports.push(d.srcPort));
    w.client.udp.listen(4000, () => {});
    await w.run(w.client.udp.send("10.0.0.7", 9, new Uint8Array(1)));
    await w.time.advance(1e6);
    expect(ports).toEqual([4000]);
  });

  it("takes --ipv4=dhcp, and its connect waits for the lease", async () => {
    const time = new VirtualTime();
    const sw = new MemorySwitch();
    const server = new ScriptedDhcpServer(sw.attach(), () => time.now());
    let shown: DhcpLease | undefined;
    const Show = createUnikernel({
      name: "show",
      needs: { stack: Stack },
      async start({ stack }) {
        shown = stack.ipv4.lease();
      },
    });
    const uk = Show({
      stack: direct(),
      netif: sw.port(),
      clock: time.monotonic(),
      time: time.time(),
      random: seededRandom(1),
    });
    await time.run(uk.start(["--ipv4=dhcp"]));
    expect(shown?.address).toBe("10.0.0.100");
    expect(server.messages(DhcpMessageType.REQUEST)).toHaveLength(1);
    await uk.stop();
    expect(time.pendingTimers).toBe(0);
    expect(uk.help()).toContain("--ipv4=CIDR|dhcp");

    const bad = await Show({
      stack: direct(),
      netif: new MemorySwitch().port(),
      clock: time.monotonic(),
      time: time.time(),
      random: seededRandom(1),
    })
      .start(["--ipv4=dhcp4"])
      .catch((e: unknown) => e);
    expect(isAtollError(bad, "ATOLL_ARG_INVALID")).toBe(true);
    expect(String((bad as Error).message)).toContain('"dhcp"');
  });
});
