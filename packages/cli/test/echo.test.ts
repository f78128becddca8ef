// apps/echo sealed: its image carries Atoll's own TCP/IP stack over a network
// slot. On a named switch it talks to a client stack in this process; on a
// TAP device it passes the Linux interop checks echo passes in-process
// (ping, nc, 100 MB with equal SHA-256). A build of echo's Node entry, which
// binds the host's socket stack, fails naming the import chain.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { readAll } from "@atoll/tcpip/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuildError, type BuildResult, type RunningImage, startImage } from "../src/index.js";
import { build, Capture, imageWithClientOnSwitch, root, tmp, until } from "./helpers.js";
import { echoTransfer, Netns, tapUnavailable, uniqueName } from "./netns.js";

let dir: string;
let echo: BuildResult;

beforeAll(async () => {
  dir = tmp();
  echo = await build(path.join(root, "apps/echo/src/image.ts"), dir);
});

describe("echo, sealed", () => {
  it("is built with its stack inside and the link as a slot", () => {
    expect(echo.manifest.name).toBe("echo");
    expect(echo.manifest.slots).toEqual({
      netif: "atoll.netif/1",
      clock: "atoll.clock.monotonic/1",
      time: "atoll.time/1",
      random: "atoll.random/1",
    });
    const flags = echo.manifest.args.map((a) => a.flag);
    expect(flags).toEqual(expect.arrayContaining(["port", "ipv4", "ipv4-gateway", "log"]));
  });

  it("cannot seal echo's Node entry: the socket stack is host-only", async () => {
    const failure = await build(path.join(root, "apps/echo/src/main.ts"), dir).catch((e) => e);
    expect(failure).toBeInstanceOf(BuildError);
    const message = (failure as BuildError).message;
    expect(message).toMatch(
      /@atoll\/tcpip\/socket \(a host-only entry point\)\n\s+import chain: \S*apps\/echo\/src\/main\.ts → @atoll\/tcpip\/socket\n/,
    );
    expect(message).toMatch(
      /@atoll\/netif-tap \(a host-only entry point\)\n\s+import chain: \S*apps\/echo\/src\/main\.ts → @atoll\/netif-tap\n/,
    );
    expect(message).toMatch(/process \(Node's process\) at \S*apps\/echo\/src\/main\.ts:\d+/);
  });

  it("echoes TCP and UDP and answers pings on a named switch, to a client stack in this process", async () => {
    const { out, running, client, close } = await imageWithClientOnSwitch(echo.path, {
      name: `echo-${process.pid}`,
      argv: ["--ipv4=10.9.0.2/24", "--port=7"],
      clientIpv4: "10.9.0.1/24",
      seed: "client",
    });
    try {
      await until(() => out.text().includes("echoing"), 5000);
      expect(out.text()).toMatch(/INF echo: echoing port=7 address=10\.9\.0\.2/);
      expect((await client.icmp.ping("10.9.0.2")).address).toBe("10.9.0.2");
      const flow = await client.tcp.connect("10.9.0.2", 7);
      const payload = new Uint8Array(1 << 20).map((_, i) => (i * 13) & 255);
      const [back] = await Promise.all([
        readAll(flow),
        flow.write(payload).then(() => flow.shutdown()),
      ]);
      expect(back.length).toBe(payload.length);
      expect(back.every((v, i) => v === payload[i])).toBe(true);
      await flow.close();
      const reply = new Promise<string>((resolve) =>
        client.udp.listen(4000, (d) => resolve(new TextDecoder().decode(d.data))),
      );
      await client.udp.send("10.9.0.2", 7, new TextEncoder().encode("sealed"), {
        srcPort: 4000,
      });
      expect(await reply).toBe("sealed");
    } finally {
      await close();
    }
    expect((await running.done).status).toBe(0);
  });
});

const tapReason = await tapUnavailable(["ping", "nc"]);
if (tapReason !== undefined) console.warn(`echo on TAP skipped: ${tapReason}`);

describe.skipIf(tapReason !== undefined)("echo, sealed, on a TAP device, against Linux", () => {
  let ns: Netns;
  let running: RunningImage;
  const out = new Capture();

  beforeAll(async () => {
    ns = await Netns.create();
    const ifname = uniqueName("ae");
    running = await startImage(echo.path, {
      net: { netif: `tap:${ifname}` },
      argv: ["--ipv4=10.9.1.2/24", "--port=7"],
      stdout: out,
      stderr: out,
    });
    // The tender created the device in this namespace; Linux's side of the link goes to a fresh one.
    await ns.adopt(ifname, "10.9.1.1/24");
    await until(() => out.text().includes("echoing"), 5000);
  });

  afterAll(async () => {
    running?.stop();
    const result = await running?.done;
    await ns?.close();
    expect(result?.status).toBe(0);
  });

  it("answers Linux's ping", async () => {
    const ping = await ns.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.9.1.2"]);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(ping.code).toBe(0);
  });

  it("echoes what nc sends over Linux's TCP", async () => {
    const nc = await ns.exec(["nc", "-N", "-w", "5", "10.9.1.2", "7"], {
      input: "hello, sealed echo\n",
    });
    expect(nc.stdout).toBe("hello, sealed echo\n");
    expect(nc.code).toBe(0);
  });

  it("echoes 100 MB whose SHA-256 comes back equal", async () => {
    const t = await echoTransfer(ns, "10.9.1.2", 7, 100e6);
    expect(t.receivedBytes).toBe(t.bytes);
    expect(t.receivedSha256).toBe(t.sentSha256);
    expect(t.status).toBe(0);
    console.info(`100 MB echoed through the sealed echo in ${(t.ms / 1000).toFixed(1)} s`);
  }, 120_000);

  const bin = path.join(root, "packages/cli/bin/atoll.mjs");
  const builtCli = existsSync(path.join(root, "packages/cli/dist/cli.js"));
  if (!builtCli) console.warn("atoll binary tests skipped: build packages/cli first (pnpm build)");

  it.skipIf(!builtCli)(
    "runs as `atoll run IMAGE --net:netif=tap0` inside a namespace",
    async () => {
      const inside = await Netns.create();
      try {
        const child = inside.spawn([
          process.execPath,
          bin,
          "run",
          echo.path,
          "--net:netif=tap0",
          "--",
          "--ipv4=10.9.3.2/24",
          "--port=7007",
        ]);
        let text = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
        await until(() => text.includes("echoing"), 10_000);
        await inside.ip("addr", "add", "10.9.3.1/24", "dev", "tap0");
        await inside.ip("link", "set", "tap0", "up");
        const nc = await inside.exec(["nc", "-N", "-w", "5", "10.9.3.2", "7007"], {
          input: "over tap0\n",
        });
        expect(nc.stdout).toBe("over tap0\n");
        child.kill("SIGINT");
        expect(await exited).toBe(0);
      } finally {
        await inside.close();
      }
    },
  );

  it.skipIf(!builtCli || spawnSync("sh", ["-c", "command -v setpriv"]).status !== 0)(
    "refuses with a clear message and exit 2 when it may not open TAP devices",
    () => {
      // Still root (so the checkout stays readable, whatever its permissions),
      // but with every capability dropped: opening a TAP device needs CAP_NET_ADMIN.
      const run = spawnSync(
        "setpriv",
        [
          "--inh-caps=-all",
          "--bounding-set=-all",
          process.execPath,
          bin,
          "run",
          echo.path,
          "--net:netif=tap0",
        ],
        { encoding: "utf8" },
      );
      expect(run.stderr).toMatch(
        /atoll run: slot "netif": --net:netif=tap0: cannot create or attach TAP device tap0 \(EPERM\): this needs CAP_NET_ADMIN[^\n]*\[ATOLL_TAP_PERMISSION\]/,
      );
      expect(run.status).toBe(2);
    },
  );
});
