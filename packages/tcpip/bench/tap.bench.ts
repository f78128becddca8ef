// Atoll's TCP against the Linux kernel's over a TAP device, next to Linux
// against Linux over a veth pair, in the same run: bulk throughput each way
// at MTU 1500 with the kernel's own tools on the Linux side (socat moving a
// fixed byte count, its buffer 256 KiB), and the median ping round trip.
//
//   Linux → Atoll:  head -c N /dev/zero | socat -u - TCP:atoll:PORT     (Atoll counts what arrives, no hashing)
//   Atoll → Linux:  socat -u TCP:atoll:PORT - | wc -c                   (Atoll writes N zero bytes)
//   Linux → Linux:  the same commands between two namespaces joined by a veth pair
//
// Each figure is the sender command's wall time for N bytes (connection set
// up and torn down included), best of three rounds alternated with the veth
// peer's. The unikernel runs in this process on Node's event loop, with the
// direct stack's TCP send and receive buffers at 4 MiB (the kernel sizes its
// own up to 4 and 6 MiB by default, tcp_wmem and tcp_rmem). Needs root
// (namespaces, TAP); skipped with the reason otherwise.
//
// ATOLL_BENCH_TAP_MB (default 200) sets N for Atoll; veth moves ten times as
// much so that its fixed costs stay small against its speed.

import { compare, report } from "@atoll/bench";
// The interop suite's helpers (namespaces, TAP links moved into them, veth
// pairs, services), by path: @atoll/interop depends on this package.
import {
  createWorld,
  interopSkipReason,
  type Netns,
  openVethPair,
  stopChild,
  tcpSink,
  tcpSource,
  type VethPair,
  type World,
} from "../../../tooling/interop/src/index.js";

const reason = interopSkipReason("socat", "ping", "head");
if (reason !== undefined) {
  console.warn(`tcpip tap bench skipped: ${reason}`);
  process.exit(0);
}

const MB = 1_000_000;
const atollBytes = Number(process.env.ATOLL_BENCH_TAP_MB ?? 200) * MB;
const vethBytes = atollBytes * 10;
const BUFFER = "262144";

/** Bits per second of `command` moving `bytes`, or an error when it failed or moved less. */
async function timed(netns: Netns, command: string, bytes: number, countsOutput: boolean) {
  const t = performance.now();
  const run = await netns.exec(["bash", "-o", "pipefail", "-c", command], { timeoutMs: 600_000 });
  const seconds = (performance.now() - t) / 1000;
  if (run.code !== 0) throw new Error(`${command}: ${run.stderr}`);
  if (countsOutput && Number(run.stdout.trim()) !== bytes)
    throw new Error(`${command}: moved ${run.stdout.trim()} of ${bytes} bytes`);
  return (bytes * 8) / seconds / 1e9;
}

/** Waits until something listens on `port` in `netns`. */
async function listening(netns: Netns, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ss = await netns.exec(["ss", "-Hltn", `sport = :${port}`]);
    if (ss.stdout.includes(`:${port}`)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nothing listens on ${port}`);
}

let round = 0;

async function linuxToAtoll(w: World): Promise<number> {
  const port = 6000 + round++;
  const sink = tcpSink(w.stack, port, { hash: false });
  try {
    const gbps = await timed(
      w.netns,
      `head -c ${atollBytes} /dev/zero | socat -u -b ${BUFFER} - TCP:10.77.0.2:${port}`,
      atollBytes,
      false,
    );
    const [flow] = await sink.ended(1);
    if (flow?.bytesIn !== atollBytes) throw new Error(`Atoll received ${flow?.bytesIn} bytes`);
    return gbps;
  } finally {
    sink.close();
  }
}

async function atollToLinux(w: World): Promise<number> {
  const port = 6000 + round++;
  const source = tcpSource(w.stack, port, 0, atollBytes);
  try {
    return await timed(
      w.netns,
      `socat -u -b ${BUFFER} TCP:10.77.0.2:${port} - | wc -c`,
      atollBytes,
      true,
    );
  } finally {
    source.close();
  }
}

/** Linux to Linux over the veth pair: `from` sends, `to` listens. */
async function linuxToLinux(from: Netns, to: Netns, toAddress: string): Promise<number> {
  const port = 6000 + round++;
  const server = to.spawn([
    "bash",
    "-c",
    `socat -u -b ${BUFFER} TCP-LISTEN:${port},reuseaddr - | wc -c`,
  ]);
  let received = "";
  server.stdout?.on("data", (d: Buffer) => {
    received += d.toString();
  });
  const done = new Promise<void>((resolve) => server.on("close", () => resolve()));
  try {
    await listening(to, port);
    const gbps = await timed(
      from,
      `head -c ${vethBytes} /dev/zero | socat -u -b ${BUFFER} - TCP:${toAddress}:${port}`,
      vethBytes,
      false,
    );
    await done;
    if (Number(received.trim()) !== vethBytes)
      throw new Error(`veth: received ${received.trim()} of ${vethBytes} bytes`);
    return gbps;
  } finally {
    await stopChild(server);
  }
}

/** Median round trip in ms of 200 pings, 5 ms apart. */
async function pingMedian(netns: Netns, address: string): Promise<number> {
  const run = await netns.exec(["ping", "-c", "200", "-i", "0.005", "-W", "1", address], {
    timeoutMs: 60_000,
  });
  const times = [...run.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length < 190) throw new Error(`ping: ${times.length} of 200 answered`);
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

let world: World | undefined;
let veth: VethPair | undefined;
try {
  world = await createWorld({
    mtu: 1500,
    stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  });
  veth = await openVethPair(1500);
  const w = world;
  const v = veth;

  const up = await compare(
    () => linuxToAtoll(w),
    () => linuxToLinux(v.a, v.b, v.bAddress),
  );
  report({
    suite: "tcpip",
    name: "TCP over TAP, Linux → Atoll, MTU 1500 (socat)",
    unit: "Gbit/s",
    higherIsBetter: true,
    atoll: up.atoll,
    peer: up.peer,
    peerName: "Linux → Linux, veth",
    target: "≥ 1 Gbit/s",
  });

  const down = await compare(
    () => atollToLinux(w),
    () => linuxToLinux(v.b, v.a, v.aAddress),
  );
  report({
    suite: "tcpip",
    name: "TCP over TAP, Atoll → Linux, MTU 1500 (socat)",
    unit: "Gbit/s",
    higherIsBetter: true,
    atoll: down.atoll,
    peer: down.peer,
    peerName: "Linux → Linux, veth",
    target: "≥ 1 Gbit/s",
  });

  const rtt = await compare(
    () => pingMedian(w.netns, "10.77.0.2"),
    () => pingMedian(v.a, v.bAddress),
    { higherIsBetter: false },
  );
  report({
    suite: "tcpip",
    name: "ping RTT median over TAP (Linux → Atoll)",
    unit: "ms",
    higherIsBetter: false,
    atoll: rtt.atoll,
    peer: rtt.peer,
    peerName: "Linux → Linux, veth",
  });
} finally {
  await world?.close();
  await veth?.close();
}
