// Raw frame throughput through two TAP netifs joined by a Linux bridge (in a
// private network namespace), next to the same payloads as UDP datagrams
// between two node:dgram sockets over loopback, in the same process and run.
// Both sides keep a bounded window of frames in flight, so the figure is what
// is delivered, not what is offered. Needs root; skipped with a reason if not.
//
// This is the driver alone (frames in, frames out). The TCP throughput
// benchmark over TAP comes with the TCP/IP stack.

import { execFileSync, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { compare, report } from "@atoll/bench";
import { openTap, type TapNetif, tapUnavailableReason } from "@atoll/netif-tap";

const WINDOW = 256;
const BURST = 64;
const RUN_MS = 1000;

const reason =
  tapUnavailableReason() ??
  (spawnSync("ip", ["-V"], { stdio: "ignore" }).status === 0 ? undefined : "iproute2 is missing");
if (reason !== undefined) {
  console.warn(`netif-tap bench skipped: ${reason}`);
  process.exit(0);
}

/** Two TAP netifs bridged in a fresh namespace. */
function segment(): { a: TapNetif; b: TapNetif; close(): void } {
  const netns = `atoll-tapbench-${process.pid}`;
  execFileSync("ip", ["netns", "add", netns]);
  const a = openTap({ name: `atb${process.pid}a`.slice(0, 15) });
  const b = openTap({ name: `atb${process.pid}b`.slice(0, 15) });
  try {
    execFileSync("ip", [
      "netns",
      "exec",
      netns,
      "sh",
      "-c",
      "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
    ]);
    for (const n of [a, b]) execFileSync("ip", ["link", "set", n.name, "netns", netns]);
    execFileSync("ip", ["-netns", netns, "-batch", "-"], {
      input: [
        "link add br0 type bridge",
        `link set ${a.name} master br0`,
        `link set ${b.name} master br0`,
        `link set ${a.name} up`,
        `link set ${b.name} up`,
        "link set br0 up",
        "",
      ].join("\n"),
    });
  } catch (error) {
    a.close();
    b.close();
    spawnSync("ip", ["netns", "del", netns]);
    throw error;
  }
  return {
    a,
    b,
    close() {
      a.close();
      b.close();
      spawnSync("ip", ["netns", "del", netns]);
    },
  };
}

/**
 * Runs a windowed transfer for RUN_MS: `send(n)` offers n more frames,
 * `delivered()` counts what arrived. Frames lost (the window stalls for 20 ms)
 * are written off so that a loss does not stop the run. Returns frames per second.
 */
function windowed(send: (n: number) => void, delivered: () => number): Promise<number> {
  return new Promise((resolve) => {
    let offered = 0;
    let lost = 0;
    let lastDelivered = 0;
    const start = performance.now();
    let lastProgress = start;
    const base = delivered();
    const tick = () => {
      const now = performance.now();
      const got = delivered() - base;
      if (got !== lastDelivered) {
        lastDelivered = got;
        lastProgress = now;
      } else if (now - lastProgress > 20) {
        lost = offered - got;
        lastProgress = now;
      }
      if (now - start >= RUN_MS) {
        resolve(got / ((now - start) / 1000));
        return;
      }
      const n = Math.min(BURST, WINDOW - (offered - got - lost));
      if (n > 0) {
        send(n);
        offered += n;
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  });
}

async function tapThroughput(a: TapNetif, b: TapNetif, size: number): Promise<number> {
  const frame = new Uint8Array(size);
  frame.set(b.mac, 0);
  frame.set(a.mac, 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  let received = 0;
  b.listen((f) => {
    if (f[12] === 0x88 && f[13] === 0xb5) received++;
  });
  return windowed(
    (n) => {
      for (let i = 0; i < n; i++) a.write(frame);
    },
    () => received,
  );
}

async function udpThroughput(payload: number): Promise<number> {
  const rx = createSocket("udp4");
  const tx = createSocket("udp4");
  await new Promise<void>((resolve) => rx.bind(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => tx.connect(rx.address().port, "127.0.0.1", resolve));
  let received = 0;
  rx.on("message", () => received++);
  const data = new Uint8Array(payload);
  const rate = await windowed(
    (n) => {
      for (let i = 0; i < n; i++) tx.send(data);
    },
    () => received,
  );
  rx.close();
  tx.close();
  return rate;
}

const net = segment();
try {
  // Warm up the bridge's forwarding table and both paths.
  await tapThroughput(net.a, net.b, 60);
  for (const [frameSize, label] of [
    [1514, "1514-byte frames (MTU 1500)"],
    [60, "60-byte frames"],
  ] as const) {
    const udpPayload = frameSize - 14 - 20 - 8;
    const { atoll, peer } = await compare(
      () => tapThroughput(net.a, net.b, frameSize),
      () => udpThroughput(udpPayload),
    );
    report({
      suite: "netif-tap",
      name: `TAP → bridge → TAP, ${label}`,
      unit: "frames/s",
      higherIsBetter: true,
      atoll,
      peer,
      peerName: `UDP loopback, ${udpPayload}-byte datagrams`,
      note: `${((atoll * frameSize * 8) / 1e9).toFixed(2)} Gbit/s of frames`,
    });
  }
} finally {
  net.close();
}
