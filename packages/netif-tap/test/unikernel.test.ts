// The tap() driver inside a unikernel: runtime arguments reach the device,
// connect failures name the device, stop closes the interface.

import { spawnSync } from "node:child_process";
import { createUnikernel, DeviceConnectError } from "@atoll/core";
import { formatMac, Netif } from "@atoll/netif";
import { describe, expect, it } from "vitest";
import { TapBusyError, type TapNetif, tap } from "../src/index.js";
import { ip, tapSkipReason, uniqueName, warnIfSkipped } from "./support/segment.js";

const skip = tapSkipReason !== undefined;
warnIfSkipped("TAP unikernel tests");

const App = createUnikernel({
  name: "app",
  needs: { netif: Netif },
  start() {
    return () => {};
  },
});

describe.skipIf(skip)("tap() in a unikernel", () => {
  it("takes --tap, --mac and --mtu from the command line, and stop removes the device", async () => {
    const name = uniqueName("u");
    const uk = App({ netif: tap({ name: "unused0", mtu: 1500 }) });
    await uk.start([`--tap=${name}`, "--mac=02:00:5e:00:53:01", "--mtu=1400"]);
    const netif = uk.device("netif") as TapNetif;
    expect(netif.name).toBe(name);
    expect(formatMac(netif.mac)).toBe("02:00:5e:00:53:01");
    expect(netif.mtu).toBe(1400);
    expect(ip("link", "show", name)).toMatch(/ mtu 1400 /);
    await uk.stop();
    expect(netif.up).toBe(false);
    expect(spawnSync("ip", ["link", "show", name], { stdio: "ignore" }).status).not.toBe(0);
  });

  it("accepts the argument qualified by the binding key, and options as defaults", async () => {
    const name = uniqueName("u");
    const uk = App({ netif: tap({ mac: "02:00:5e:00:53:02", mtu: 1280 }) });
    await uk.start({ "netif.tap": name });
    const netif = uk.device("netif") as TapNetif;
    expect(netif.name).toBe(name);
    expect(formatMac(netif.mac)).toBe("02:00:5e:00:53:02");
    expect(netif.mtu).toBe(1280);
    await uk.stop();
  });

  it("fails to start with an error naming the device when the TAP is busy", async () => {
    const name = uniqueName("u");
    const first = App({ netif: tap({ name }) });
    await first.start([]);
    try {
      const failure = await App({ netif: tap({ name }) })
        .start([])
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(DeviceConnectError);
      expect((failure as DeviceConnectError).device).toBe("netif");
      expect((failure as Error).cause).toBeInstanceOf(TapBusyError);
      expect((failure as Error).message).toContain("busy");
    } finally {
      await first.stop();
    }
  });
});
