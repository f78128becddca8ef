// website: a static website unikernel, after MirageOS's static_website. It
// serves the files of a KvRo over HTTP on any Stack, and pages about itself:
// /status (uptime, device graph, counters) and /device-graph.svg. Which
// stack and which store is decided where the functor is applied: main.ts
// (host sockets or Atoll's own TCP/IP over TAP), the tests (a memory switch).

import { MonotonicClock, Time, WallClock } from "@atoll/clock";
import { Console } from "@atoll/console";
import {
  AtollError,
  type AtollErrorOptions,
  arg,
  createUnikernel,
  milliseconds,
  seconds,
} from "@atoll/core";
import { type HttpListener, serveHttp } from "@atoll/http";
import { KvRo } from "@atoll/kv";
import { type Flow, type ListenOptions, Stack, type Tcp } from "@atoll/tcpip";
import { createWebsite } from "./website.js";

/** The port could not be confirmed as ours: another program holds it, or nothing answers. */
export class WebsiteListenError extends AtollError {
  constructor(message: string, options?: AtollErrorOptions) {
    super("ATOLL_WEBSITE_LISTEN", message, options);
  }
}

export const Website = createUnikernel({
  name: "website",
  description: "serves a static website from a key-value store, and a live /status of itself",
  needs: {
    console: Console,
    stack: Stack,
    assets: KvRo,
    clock: MonotonicClock,
    wallClock: WallClock,
    time: Time,
  },
  args: {
    port: arg.port({ default: 8080, doc: "the TCP port to serve HTTP on", env: "ATOLL_PORT" }),
  },
  async start({ console, stack, assets, clock, wallClock, time }, { port }, context) {
    const { log, signal } = context;
    const startedAt = clock.now();
    let server: HttpListener | undefined;
    const site = createWebsite({
      assets,
      stack,
      graph: context.describe(),
      uptimeNs: () => clock.now() - startedAt,
      httpStats: () => server?.stats,
      onError: (error, request) => log.error("store failed", { url: request.url, error }),
    });

    // Flows from the self-check below are recognised by their source port.
    const arrivedFrom = new Set<number>();
    let checking = true;
    const tcp: Tcp = {
      listen: (p: number, onFlow: (flow: Flow) => void, options?: ListenOptions) =>
        stack.tcp.listen(
          p,
          (flow) => {
            if (checking) arrivedFrom.add(flow.remotePort);
            onFlow(flow);
          },
          options,
        ),
      unlisten: (p: number) => stack.tcp.unlisten(p),
      connect: stack.tcp.connect.bind(stack.tcp),
    };
    server = serveHttp(tcp, port, site.fetch, {
      time,
      wallClock,
      onError: (error) => log.debug("request failed", { error }),
    });
    const stop = async () => {
      await server?.close({ graceNs: seconds(2) });
    };

    try {
      const address = await addressOf(stack, time, signal, () =>
        log.info("waiting for an IPv4 address"),
      );
      // Connect to ourselves and see the connection arrive: then the port is
      // ours and the URL printed below works (on host sockets another program
      // may hold it, and the socket stack only logs that).
      const probe = await stack.tcp
        .connect(address, port, { timeoutNs: seconds(5), signal })
        .catch((error: unknown) => {
          throw new WebsiteListenError(`cannot reach ${address}:${port}: nothing answers there`, {
            cause: error,
          });
        });
      const mine = await until(time, signal, seconds(2), () => arrivedFrom.has(probe.localPort));
      probe.abort();
      checking = false;
      arrivedFrom.clear();
      if (!mine) {
        throw new WebsiteListenError(
          `${address}:${port} is held by another program (choose another with --port)`,
        );
      }
      const url = `http://${address}:${port}/`;
      console.write(`website: serving ${url}\n`);
      log.debug("serving", { url, stack: site.stackDriver, assets: site.assetsDriver });
    } catch (error) {
      await stop();
      throw error;
    }
    return stop;
  },
});

/** The address to print: the stack's own, or 127.0.0.1 for a socket stack bound to every interface. */
async function addressOf(
  stack: Stack,
  time: Time,
  signal: AbortSignal,
  onWait: () => void,
): Promise<string> {
  let waited = false;
  for (;;) {
    const address = stack.ipv4.config().address;
    if (address !== undefined) return address === "0.0.0.0" ? "127.0.0.1" : address;
    if (!waited) onWait();
    waited = true;
    await time.sleep(milliseconds(100), signal);
  }
}

/** Polls `condition` every few ms for up to `ns`; resolves with whether it held. */
async function until(
  time: Time,
  signal: AbortSignal,
  ns: number,
  condition: () => boolean,
): Promise<boolean> {
  for (let waited = 0; waited <= ns; waited += milliseconds(5)) {
    if (condition()) return true;
    await time.sleep(milliseconds(5), signal);
  }
  return condition();
}
