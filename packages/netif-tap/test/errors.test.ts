// Errors and arguments that need no TAP device: the errno mapping, the
// unsupported-platform path, option validation and MAC parsing.

import { ArgumentError, createUnikernel, DeviceConnectError, isAtollError } from "@atoll/core";
import { formatMac, InvalidNetifOptionError, Netif } from "@atoll/netif";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { loadAddon, requireAddon } from "../src/addon.js";
import {
  TapAddonMissingError,
  TapBusyError,
  TapError,
  TapNameConflictError,
  TapNotAvailableError,
  TapOpenError,
  TapPermissionError,
  TapUnsupportedPlatformError,
  tap,
  tapErrorFromSystemError,
} from "../src/index.js";
import { randomMac, unicastMacOrUndefined } from "../src/mac.js";

const systemError = (code: string, syscall: string) =>
  Object.assign(new Error(`${syscall}: ${code}`), { code, syscall });

describe("tapErrorFromSystemError", () => {
  const cases: Array<[string, string, new (...args: any[]) => TapError, string]> = [
    ["ENOENT", "open", TapNotAvailableError, "ATOLL_TAP_NO_DEVICE"],
    ["ENODEV", "open", TapNotAvailableError, "ATOLL_TAP_NO_DEVICE"],
    ["EACCES", "open", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EPERM", "open", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EPERM", "TUNSETIFF", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EBUSY", "TUNSETIFF", TapBusyError, "ATOLL_TAP_BUSY"],
    ["EINVAL", "TUNSETIFF", TapNameConflictError, "ATOLL_TAP_NAME_CONFLICT"],
    ["EPERM", "SIOCSIFMTU", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EPERM", "SIOCSIFFLAGS", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EPERM", "SIOCSIFHWADDR", TapPermissionError, "ATOLL_TAP_PERMISSION"],
    ["EINVAL", "SIOCSIFMTU", TapOpenError, "ATOLL_TAP_FAILED"],
    ["EMFILE", "open", TapOpenError, "ATOLL_TAP_FAILED"],
    ["ENOMEM", "TUNSETIFF", TapOpenError, "ATOLL_TAP_FAILED"],
  ];
  for (const [errno, syscall, type, code] of cases) {
    it(`${syscall} ${errno} → ${type.name} (${code})`, () => {
      const cause = systemError(errno, syscall);
      const error = tapErrorFromSystemError(cause, "tap7");
      expect(error).toBeInstanceOf(type);
      expect(error).toBeInstanceOf(TapError);
      expect(isAtollError(error, code)).toBe(true);
      expect(error.errno).toBe(errno);
      expect(error.syscall).toBe(syscall);
      expect(error.device).toBe("tap7");
      expect(error.cause).toBe(cause);
    });
  }

  it("says CAP_NET_ADMIN is needed, and how to get it, whenever permission is denied", () => {
    for (const syscall of ["open", "TUNSETIFF", "SIOCSIFMTU"]) {
      const message = tapErrorFromSystemError(systemError("EPERM", syscall), "tap7").message;
      expect(message).toContain("CAP_NET_ADMIN");
      expect(message).toContain("tap7");
    }
    expect(tapErrorFromSystemError(systemError("EPERM", "TUNSETIFF"), "tap7").message).toContain(
      "ip tuntap add dev tap7 mode tap user",
    );
  });

  it("names the clone device when it is missing", () => {
    const error = tapErrorFromSystemError(systemError("ENOENT", "open"), "tap0", "/dev/net/tun");
    expect(error.message).toContain("/dev/net/tun");
    expect(error.message).toContain("modprobe tun");
  });

  it("never throws, whatever it is given", () => {
    fc.assert(
      fc.property(fc.anything(), fc.string(), (thing, name) => {
        expect(tapErrorFromSystemError(thing, name)).toBeInstanceOf(TapError);
      }),
    );
  });
});

describe("unsupported platforms", () => {
  const platform = Object.getOwnPropertyDescriptor(process, "platform")!;
  afterEach(() => {
    Object.defineProperty(process, "platform", platform);
  });

  it("loading the addon off Linux throws TapUnsupportedPlatformError", () => {
    for (const p of ["darwin", "win32", "freebsd"]) {
      let error: unknown;
      try {
        loadAddon(p);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TapUnsupportedPlatformError);
      expect(isAtollError(error, "ATOLL_TAP_UNSUPPORTED")).toBe(true);
      expect((error as Error).message).toContain(p);
    }
  });

  it("a unikernel bound to tap() fails to start off Linux, naming the device", async () => {
    Object.defineProperty(process, "platform", { ...platform, value: "darwin" });
    const App = createUnikernel({ name: "app", needs: { netif: Netif }, start() {} });
    const uk = App({ netif: tap({ name: "tap0" }) });
    const failure = await uk.start([]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeviceConnectError);
    expect((failure as DeviceConnectError).device).toBe("netif");
    expect((failure as Error).cause).toBeInstanceOf(TapUnsupportedPlatformError);
  });
});

describe("a missing addon", () => {
  it("is reported as TapAddonMissingError with the rebuild command", () => {
    let error: unknown;
    try {
      requireAddon("/nonexistent/build/Release/atoll_tap.node");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TapAddonMissingError);
    expect(isAtollError(error, "ATOLL_TAP_ADDON_MISSING")).toBe(true);
    expect((error as Error).message).toContain("pnpm rebuild @atoll/netif-tap");
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});

describe("options and arguments", () => {
  it("rejects bad options when the driver is made", () => {
    const bad = [
      { name: "a-name-longer-than-15" },
      { name: "bad/name" },
      { name: "%s" },
      { name: "" },
      { mac: "01:00:5e:00:00:01" },
      { mac: "02:00:00:00:00" },
      { mac: new Uint8Array(5) },
      { hostMac: "ff:ff:ff:ff:ff:ff" },
      { mtu: 67 },
      { mtu: 65536 },
      { mtu: 1500.5 },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        tap(options);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidNetifOptionError);
      expect(isAtollError(error, "ATOLL_NETIF_INVALID_OPTION")).toBe(true);
    }
    expect(() => tap({ name: "tap0", mac: "02:00:00:00:00:01", mtu: 9000 })).not.toThrow();
  });

  it("documents --tap, --mac and --mtu, also qualified by the device's binding key", () => {
    const App = createUnikernel({ name: "app", needs: { netif: Netif }, start() {} });
    const uk = App({ netif: tap({ name: "tap3", mtu: 1400 }) });
    const flags = uk.argEntries.filter((e) => e.owner === "device:netif");
    expect(flags.map((e) => [e.flag, e.aliases])).toEqual([
      ["tap", ["netif.tap"]],
      ["mac", ["netif.mac"]],
      ["mtu", ["netif.mtu"]],
    ]);
    const help = uk.help();
    expect(help).toContain("--tap");
    expect(help).toContain("tap3");
    expect(help).toContain("1400");
  });

  it("qualifies the arguments of two TAP netifs by their binding keys", () => {
    const Router = createUnikernel({
      name: "router",
      needs: { net0: Netif, net1: Netif },
      start() {},
    });
    const uk = Router({ net0: tap({ name: "tap0" }), net1: tap({ name: "tap1" }) });
    expect(uk.argEntries.filter((e) => e.key === "tap").map((e) => e.flag)).toEqual([
      "net0.tap",
      "net1.tap",
    ]);
  });

  it("rejects malformed runtime arguments before anything connects", async () => {
    const App = createUnikernel({ name: "app", needs: { netif: Netif }, start() {} });
    for (const argv of [["--tap=way-too-long-a-name"], ["--mac=zz:00:00:00:00:00"], ["--mtu=10"]]) {
      const failure = await App({ netif: tap() })
        .start(argv)
        .catch((e: unknown) => e);
      expect(failure, argv[0]).toBeInstanceOf(ArgumentError);
    }
  });
});

describe("MAC addresses", () => {
  it("accepts any unicast address, as text or bytes, and refuses group addresses", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (bytes) => {
        const unicast = (bytes[0]! & 1) === 0;
        const fromText = unicastMacOrUndefined(formatMac(bytes));
        const fromBytes = unicastMacOrUndefined(bytes);
        if (unicast) {
          expect(fromText).toEqual(bytes);
          expect(fromBytes).toEqual(bytes);
          expect(fromBytes).not.toBe(bytes);
        } else {
          expect(fromText).toBeUndefined();
          expect(fromBytes).toBeUndefined();
        }
      }),
    );
    for (const value of [undefined, 42, "", "02:00:00:00:00", new Uint8Array(7)])
      expect(unicastMacOrUndefined(value)).toBeUndefined();
  });

  it("makes up locally administered unicast addresses", () => {
    for (let i = 0; i < 100; i++) expect(randomMac()[0]! & 0x03).toBe(0x02);
  });
});
