// One interop world: Atoll's direct stack (in this process, on the system
// clock and the Fortuna Random) over a TAP link whose Linux side lives in a
// fresh network namespace. Optionally the TAP Netif is wrapped in
// impairments and/or a pcap recorder, as a unikernel would stack the
// `impair()` and `pcap()` drivers. close() tears all of it down.

import {
  type MonotonicClock,
  systemMonotonicClock,
  systemTime,
  systemWallClock,
  type Time,
  type WallClock,
} from "@atoll/clock";
import {
  type ConnectContext,
  type Logger,
  LogReporter,
  parseLogLevels,
  silentLogger,
} from "@atoll/core";
import { type Random, systemRandom } from "@atoll/entropy";
import { ImpairedNetif, type ImpairOptions, type Netif, PcapNetif } from "@atoll/netif";
import { pcapFile } from "@atoll/netif/node";
import {
  createDirectStack,
  type DhcpOptions,
  type DirectStack,
  type DirectStackOptions,
} from "@atoll/tcpip";
import { openTapLink, type TapLink, type TapLinkOptions } from "./link.js";
import type { Netns } from "./netns.js";

export interface SystemDevices {
  readonly clock: MonotonicClock;
  readonly time: Time;
  readonly wallClock: WallClock;
  readonly random: Random;
}

let devices: Promise<SystemDevices> | undefined;

/** The host's clocks and Fortuna, connected once per process. */
export function systemDevices(): Promise<SystemDevices> {
  devices ??= (async () => {
    const context = {
      name: "interop",
      log: silentLogger,
      signal: new AbortController().signal,
    } as ConnectContext;
    const clock = (await systemMonotonicClock().connect({}, {}, context)) as MonotonicClock;
    const time = (await systemTime().connect({}, {}, context)) as Time;
    const wallClock = (await systemWallClock().connect({}, {}, context)) as WallClock;
    const random = (await systemRandom().connect({ clock }, {}, context)) as Random;
    return { clock, time, wallClock, random };
  })();
  return devices;
}

/** A logger printing to stderr when ATOLL_INTEROP_LOG is set (`debug`, `info`, `dhcp=debug,...`). */
export function interopLogger(source: string): Logger {
  const spec = process.env.ATOLL_INTEROP_LOG;
  if (spec === undefined || spec === "") return silentLogger;
  const levels = parseLogLevels(spec) ?? parseLogLevels("info")!;
  const start = performance.now();
  return new LogReporter({
    levels,
    now: () => (performance.now() - start) * 1e6,
    sink: (line) => process.stderr.write(line),
  }).logger(source);
}

export interface WorldOptions {
  /**
   * The unikernel's address with prefix, or "dhcp" (default `10.77.0.2/24`);
   * undefined for none (start `stack.dhcp` by hand, or `configure` it).
   */
  readonly atoll?: string | undefined;
  /** The Linux side's address with prefix (default `10.77.0.1/24`; undefined for none). */
  readonly linux?: string | undefined;
  readonly mtu?: number;
  /** Impairments of the unikernel's link (both directions unless `tx`/`rx` say otherwise). */
  readonly impair?: ImpairOptions;
  /** Records the unikernel's frames to this pcap file (outside the impairments: what the stack sees). */
  readonly pcap?: string;
  /** Options of the direct stack (TCP tunables, ...). */
  readonly stack?: Omit<DirectStackOptions, "ipv4" | "dhcp">;
  readonly dhcp?: DhcpOptions;
  readonly tap?: TapLinkOptions["tap"];
}

export interface World {
  readonly link: TapLink;
  readonly netns: Netns;
  readonly stack: DirectStack;
  /** The Netif the stack runs on (the TAP device, maybe wrapped). */
  readonly netif: Netif;
  readonly impaired: ImpairedNetif | undefined;
  readonly pcap: PcapNetif | undefined;
  /** The unikernel's address (undefined until DHCP binds one). */
  readonly atollAddress: string | undefined;
  /** The Linux side's address, without prefix. */
  readonly linuxAddress: string | undefined;
  readonly devices: SystemDevices;
  close(): Promise<void>;
}

export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const system = await systemDevices();
  const linux = "linux" in options ? options.linux : "10.77.0.1/24";
  const atoll = "atoll" in options ? options.atoll : "10.77.0.2/24";
  const link = await openTapLink({
    linux,
    ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
    ...(options.tap === undefined ? {} : { tap: options.tap }),
  });
  let stack: DirectStack | undefined;
  let recorder: PcapNetif | undefined;
  try {
    let netif: Netif = link.netif;
    const impaired =
      options.impair === undefined ? undefined : new ImpairedNetif(netif, system, options.impair);
    if (impaired !== undefined) netif = impaired;
    if (options.pcap !== undefined) {
      recorder = new PcapNetif(netif, system.wallClock, { sink: pcapFile(options.pcap) });
      netif = recorder;
    }
    const created = createDirectStack(
      {
        netif,
        clock: system.clock,
        time: system.time,
        random: system.random,
        log: interopLogger("stack"),
      },
      {
        ...options.stack,
        ...(atoll === undefined ? {} : { ipv4: atoll }),
        ...(options.dhcp === undefined ? {} : { dhcp: options.dhcp }),
      },
    );
    stack = created;
    return {
      link,
      netns: link.netns,
      stack: created,
      netif,
      impaired,
      pcap: recorder,
      get atollAddress() {
        return created.ipv4.config().address;
      },
      linuxAddress: linux?.split("/")[0],
      devices: system,
      async close() {
        await created.close();
        if (recorder !== undefined) await recorder.disconnect();
        await link.close();
      },
    };
  } catch (error) {
    await stack?.close();
    await recorder?.disconnect();
    await link.close();
    throw error;
  }
}
