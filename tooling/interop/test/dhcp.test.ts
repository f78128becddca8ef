// Atoll's DHCP client against dnsmasq (the DHCP server of many Linux
// systems) in the Linux side's namespace: a lease with the options asked
// for, a renewal at T1, then traffic on the leased address. The exchange is
// recorded and read back by tshark when it is installed.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DhcpLease } from "@atoll/tcpip";
import { afterEach, describe, expect, it } from "vitest";
import { type Dnsmasq, startDnsmasq } from "../src/dnsmasq.js";
import {
  createWorld,
  hasCommand,
  progress,
  skipReason,
  tcpEcho,
  type World,
} from "../src/index.js";
import { tshark } from "../src/tshark.js";

let world: World | undefined;
let dnsmasq: Dnsmasq | undefined;
let dir: string | undefined;
afterEach(async () => {
  await world?.close();
  await dnsmasq?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  world = undefined;
  dnsmasq = undefined;
  dir = undefined;
});

describe("DHCP from dnsmasq", () => {
  it.skipIf(skipReason("DHCP with dnsmasq", "dnsmasq", "nc", "ping") !== undefined)(
    "leases an address, renews it at T1, and serves traffic on it",
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), "atoll-interop-dhcp-"));
      const capture = path.join(dir, "dhcp.pcap");
      world = await createWorld({ atoll: undefined, pcap: capture });
      const w = world;
      dnsmasq = await startDnsmasq(w.netns, {
        interface: w.link.name,
        range: ["10.77.0.100", "10.77.0.150"],
        lease: "2m",
        renewalSeconds: 12,
        rebindingSeconds: 90,
        router: "10.77.0.1",
        dns: "10.77.0.1",
        mtu: 1500,
      });
      const changes: Array<DhcpLease | undefined> = [];
      w.stack.ipv4.onChange((_config, lease) => changes.push(lease));

      progress("DHCP: DISCOVER to dnsmasq");
      w.stack.dhcp.start();
      const lease = await w.stack.dhcp.whenBound(AbortSignal.timeout(60_000));
      progress(`DHCP: bound ${lease.address}; waiting for the renewal at T1`);
      expect(lease.address).toMatch(/^10\.77\.0\.(1[0-4][0-9]|150)$/);
      expect(lease).toMatchObject({
        prefixLength: 24,
        gateway: "10.77.0.1",
        dnsServers: ["10.77.0.1"],
        server: "10.77.0.1",
        mtu: 1500,
        leaseTimeNs: 120e9,
        renewalTimeNs: 12e9,
        rebindingTimeNs: 90e9,
      });
      expect(w.stack.ipv4.config()).toEqual({
        address: lease.address,
        prefixLength: 24,
        gateway: "10.77.0.1",
      });
      expect(dnsmasq.log()).toMatch(
        new RegExp(`DHCPACK\\(${w.link.name}\\) ${lease.address.replaceAll(".", "\\.")}`),
      );

      // The renewal: unicast to dnsmasq at T1, acknowledged, the same address.
      const deadline = performance.now() + 30_000;
      while (w.stack.stats.dhcp.renewals === 0 && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(w.stack.stats.dhcp.renewals).toBeGreaterThanOrEqual(1);
      const renewed = w.stack.ipv4.lease()!;
      expect(renewed.address).toBe(lease.address);
      expect(renewed.boundAt).toBeGreaterThan(lease.boundAt);
      expect(changes.length).toBeGreaterThanOrEqual(2);
      const acks = dnsmasq.log().match(/DHCPACK\(/g) ?? [];
      expect(acks.length).toBeGreaterThanOrEqual(2);
      progress(`DHCP: renewed (${w.stack.stats.dhcp.renewals}); serving on ${lease.address}`);

      // And it serves on its leased address.
      const echo = tcpEcho(w.stack, 7);
      const ping = await w.netns.exec(["ping", "-c", "10", "-i", "0.01", "-q", lease.address]);
      expect(ping.stdout).toMatch(/10 received, 0% packet loss/);
      const out = await w.netns.run(["nc", "-N", lease.address, "7"], {
        input: "over a leased address\n",
      });
      expect(out).toBe("over a leased address\n");
      expect((await echo.ended(1))[0]!.error).toBeUndefined();
      expect(w.stack.stats.dhcp).toMatchObject({
        rxMalformed: 0,
        naksReceived: 0,
        internalErrors: 0,
      });

      await w.close();
      world = undefined;
      if (hasCommand("tshark")) {
        progress("DHCP: tshark reads the capture");
        const rows = await tshark(capture, ["dhcp.option.dhcp", "bootp.option.dhcp"]);
        const types = rows
          .map((r) => r["dhcp.option.dhcp"] || r["bootp.option.dhcp"])
          .filter(Boolean);
        // DISCOVER 1, OFFER 2, REQUEST 3, ACK 5: the exchange and the renewal.
        for (const t of ["1", "2", "3", "5"]) expect(types).toContain(t);
        expect(types.filter((t) => t === "5").length).toBeGreaterThanOrEqual(2);
        expect(rows.filter((r) => r.bad)).toEqual([]);
      }
    },
  );
});
