// The website on Atoll's direct stack on a memory switch, on the system clock,
// reachable from the host through a loopback proxy: a client direct stack on
// another port of the switch opens a connection to the website for every
// connection the proxy accepts. No TAP, no root: a browser on this machine
// talks to Atoll's TCP/IP.
import {
  type MonotonicClock,
  systemMonotonicClock,
  systemTime,
  systemWallClock,
  type Time,
} from "@atoll/clock";
import { memoryConsole } from "@atoll/console";
import { type AnyDriver, silentLogger } from "@atoll/core";
import { SeededRandom, seededRandom } from "@atoll/entropy";
import { staticKv } from "@atoll/kv";
import { MemorySwitch } from "@atoll/netif";
import { createDirectStack, direct } from "@atoll/tcpip";
import { type LoopbackProxy, startLoopbackProxy } from "../../src/loopback-proxy.js";
import { Website } from "../../src/unikernel.js";
import { siteImage } from "./site.js";

/** Connects a driver that needs no devices, outside a unikernel. */
async function connect<T>(d: AnyDriver): Promise<T> {
  return (await d.connect(
    {},
    {},
    { name: "proxy", log: silentLogger, signal: new AbortController().signal },
  )) as T;
}

export interface SwitchSite {
  readonly proxy: LoopbackProxy;
  readonly console: ReturnType<typeof memoryConsole>["console"];
  close(): Promise<void>;
}

export async function startSwitchSite(): Promise<SwitchSite> {
  const sw = new MemorySwitch();
  const out = memoryConsole();
  const uk = Website({
    console: out,
    stack: direct(),
    netif: sw.port(),
    clock: systemMonotonicClock(),
    wallClock: systemWallClock(),
    time: systemTime(),
    random: seededRandom("website"),
    assets: staticKv(await siteImage()),
  });
  await uk.start(["--ipv4=10.0.0.2/24", "--port=80"]);
  const clock = await connect<MonotonicClock>(systemMonotonicClock());
  const time = await connect<Time>(systemTime());
  const client = createDirectStack(
    {
      netif: sw.attach(),
      clock,
      time,
      random: new SeededRandom("proxy"),
    },
    { ipv4: "10.0.0.1/24" },
  );
  const proxy = await startLoopbackProxy({
    stack: client,
    target: { address: "10.0.0.2", port: 80 },
  });
  return {
    proxy,
    console: out.console,
    async close() {
      await proxy.close();
      await client.close();
      await uk.stop();
    },
  };
}
