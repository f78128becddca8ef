// TCP throughput and per-connection memory of the direct stack, next to
// Node's own kernel TCP over loopback measured in the same run.
//
// Throughput: two direct stacks in one process on a memory switch, on the
// system clock, move ATOLL_BENCH_GIB GiB (default 1) over one connection at
// MTU 1500, 9000 and 65535, with every checksum computed and verified; the
// peer moves the same amount through `node:net` over 127.0.0.1.
//
// Memory: 10,000 idle connections between two direct stacks; heap growth per
// connection endpoint (after gc), next to the JS heap a `net.Socket` endpoint
// costs (its kernel buffers are not counted: they are not on the JS heap).
// Run with --expose-gc (`pnpm bench` does).

import { fork } from "node:child_process";
import * as net from "node:net";
import { compare, report } from "@atoll/bench";
import {
  type MonotonicClock,
  systemMonotonicClock,
  systemTime,
  type Time,
  VirtualTime,
} from "@atoll/clock";
import type { ConnectContext } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import { createDirectStack, type DirectStack, type Flow } from "@atoll/tcpip";

const GiB = 1024 ** 3;
const chunkSize = 256 * 1024;
const volume = Math.ceil((Number(process.env.ATOLL_BENCH_GIB ?? 1) * GiB) / chunkSize) * chunkSize;
const gc = (globalThis as { gc?: () => void }).gc;

const context = {} as ConnectContext;
const clock = (await systemMonotonicClock().connect({}, {}, context)) as MonotonicClock;
const time = (await systemTime().connect({}, {}, context)) as Time;

if (process.argv[2] === "--kernel-server") await kernelServer();
else await main();

async function main() {
  for (const mtu of [1500, 9000, 65535]) {
    const result = await compare(
      () => directThroughput(mtu),
      () => kernelThroughput(),
      { rounds: 3 },
    );
    report({
      suite: "tcpip",
      name: `TCP bulk, one connection, MTU ${mtu}, ${fmtGiB(volume)}`,
      unit: "MB/s",
      higherIsBetter: true,
      atoll: result.atoll,
      peer: result.peer,
      peerName: "node:net over loopback",
      target: ">= 0.5x",
    });
  }

  const idle = 10_000;
  const atollBytes = await directIdleMemory(idle);
  const kernelBytes = await kernelIdleMemory(idle);
  report({
    suite: "tcpip",
    name: `memory per idle connection endpoint (${idle.toLocaleString("en")} connections)`,
    unit: "KiB",
    higherIsBetter: false,
    atoll: atollBytes / 1024,
    peer: kernelBytes / 1024,
    peerName: "net.Socket, JS heap and buffers; kernel memory not counted",
    target: "< 8 KiB",
  });
}

function fmtGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(bytes % GiB === 0 ? 0 : 2)} GiB`;
}

function pair(mtu: number, virtual?: VirtualTime) {
  const sw = new MemorySwitch({ mtu, queueLength: 4096, queueBytes: 64 << 20 });
  const random = new SeededRandom("bench");
  const devices = virtual
    ? { clock: virtual.clock, time: virtual.timers, random }
    : { clock, time, random };
  const tcp = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
  const a = createDirectStack({ netif: sw.attach(), ...devices }, { ipv4: "10.0.0.1/24", tcp });
  const b = createDirectStack({ netif: sw.attach(), ...devices }, { ipv4: "10.0.0.2/24", tcp });
  return { a, b };
}

/** MB/s moving `volume` bytes from a to b over one connection. */
async function directThroughput(mtu: number): Promise<number> {
  const { a, b } = pair(mtu);
  try {
    const received = new Promise<number>((resolve, reject) => {
      b.tcp.listen(5001, (flow) => {
        void (async () => {
          let n = 0;
          for (;;) {
            const chunk = await flow.read();
            if (chunk === null) break;
            n += chunk.length;
          }
          await flow.close();
          return n;
        })().then(resolve, reject);
      });
    });
    await a.icmp.ping("10.0.0.2"); // resolve ARP before timing
    const flow = await a.tcp.connect("10.0.0.2", 5001);
    const chunk = new Uint8Array(chunkSize).map((_, i) => i * 7);
    const start = performance.now();
    await send(flow, chunk);
    const n = await received;
    const seconds = (performance.now() - start) / 1000;
    if (n !== volume) throw new Error(`received ${n} of ${volume} bytes`);
    return volume / 1e6 / seconds;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function send(flow: Flow, chunk: Uint8Array): Promise<void> {
  for (let sent = 0; sent < volume; sent += chunk.length) await flow.write(chunk);
  await flow.close();
}

/** MB/s moving `volume` bytes through the kernel over loopback. */
async function kernelThroughput(): Promise<number> {
  const server = net.createServer();
  let received = 0;
  const done = new Promise<void>((resolve) => {
    server.on("connection", (socket) => {
      socket.on("data", (data: Buffer) => {
        received += data.length;
      });
      socket.on("end", () => {
        socket.end();
        resolve();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const chunk = Buffer.alloc(chunkSize, 7);
  const start = performance.now();
  for (let sent = 0; sent < volume; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
  }
  socket.end();
  await done;
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  server.close();
  if (received !== volume) throw new Error(`kernel: received ${received} of ${volume}`);
  return volume / 1e6 / seconds;
}

/** JS heap plus ArrayBuffer backing stores (which live outside the heap). */
function heap(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Heap bytes per endpoint of `count` idle connections between two direct stacks (virtual time). */
async function directIdleMemory(count: number): Promise<number> {
  const world = new VirtualTime();
  const { a, b } = pair(1500, world);
  const accepted: Flow[] = [];
  b.tcp.listen(5001, (flow) => accepted.push(flow), { backlog: count });
  await world.run(a.icmp.ping("10.0.0.2"));
  const before = heap();
  const flows: Flow[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, () =>
      a.tcp.connect("10.0.0.2", 5001),
    );
    flows.push(...(await world.run(Promise.all(batch))));
  }
  await world.advance(1e9);
  const after = heap();
  if (accepted.length !== count) throw new Error(`accepted ${accepted.length} of ${count}`);
  const perEndpoint = (after - before) / (2 * count);
  await closeAll(world, a, b);
  return perEndpoint;
}

async function closeAll(world: VirtualTime, a: DirectStack, b: DirectStack): Promise<void> {
  await world.run(Promise.all([a.close(), b.close()]));
}

/** JS heap bytes per client `net.Socket` of `count` idle loopback connections (the server runs in a child). */
async function kernelIdleMemory(count: number): Promise<number> {
  const child = fork(new URL(import.meta.url), ["--kernel-server"], {
    execArgv: process.execArgv,
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve) =>
    child.once("message", (m) => resolve(m as number)),
  );
  const before = heap();
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from(
      { length: Math.min(500, count - i) },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(port, "127.0.0.1", () => resolve(s));
          s.once("error", reject);
        }),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = heap();
  for (const s of sockets) s.destroy();
  child.kill();
  return (after - before) / count;
}

async function kernelServer() {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => sockets.push(socket));
  server.listen(0, "127.0.0.1", 20_000, () => {
    process.send?.((server.address() as net.AddressInfo).port);
  });
}
