// TCP engine benchmarks: two engines over the in-memory lower of the tests
// (checksums computed and verified, no IP layer) next to Node's kernel TCP
// over loopback; and the memory of 10,000 idle established connections next
// to what Node holds per net.Socket.
//
//   pnpm bench tcp-engine        (or: node --expose-gc --import tsx bench/tcp-engine.bench.ts)
import net from "node:net";
import { compare, report } from "@atoll/bench";
import type { Flow } from "../src/signature.js";
import { createPair } from "../test/tcp-link.js";

const MB = 1e6;
const TRANSFER = Number(process.env.TCP_BENCH_BYTES ?? 256 * 1024 * 1024);
const CHUNK = 64 * 1024;
const payload = new Uint8Array(CHUNK).map((_, i) => (i * 131) & 255);

async function atollThroughput(mtu: number): Promise<number> {
  const pair = createPair({ mtu });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    pair.b.tcp.listen(9, async (flow: Flow) => {
      for (;;) {
        const c = await flow.read();
        if (c === null) break;
        received += c.length;
      }
      await flow.close();
      resolve();
    });
  });
  const flow = await pair.world.run(pair.a.tcp.connect("10.0.0.2", 9));
  const start = performance.now();
  const writer = (async () => {
    for (let sent = 0; sent < TRANSFER; sent += CHUNK) await flow.write(payload);
    await flow.close();
  })();
  await pair.world.run(Promise.all([writer, done]), { maxSteps: 1e9 });
  const seconds = (performance.now() - start) / 1000;
  if (received !== TRANSFER) throw new Error(`received ${received} of ${TRANSFER}`);
  pair.a.close();
  pair.b.close();
  return TRANSFER / MB / seconds;
}

async function kernelThroughput(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    server.on("connection", (s) => {
      s.on("data", (d: Buffer) => {
        received += d.length;
      });
      s.on("end", () => {
        s.end();
        resolve();
      });
    });
  });
  const client = net.connect(port, "127.0.0.1");
  await new Promise<void>((r) => client.once("connect", r));
  const buf = Buffer.from(payload);
  const start = performance.now();
  for (let sent = 0; sent < TRANSFER; sent += CHUNK) {
    if (!client.write(buf)) await new Promise<void>((r) => client.once("drain", r));
  }
  client.end();
  await done;
  const seconds = (performance.now() - start) / 1000;
  client.destroy();
  server.close();
  if (received !== TRANSFER) throw new Error(`kernel received ${received}`);
  return TRANSFER / MB / seconds;
}

for (const mtu of [1500, 9000, 65535]) {
  const r = await compare(() => atollThroughput(mtu), kernelThroughput, { rounds: 3 });
  report({
    suite: "tcpip",
    name: `TCP engine bulk, two engines in one process, MTU ${mtu} (${TRANSFER >> 20} MiB)`,
    unit: "MB/s",
    higherIsBetter: true,
    atoll: r.atoll,
    peer: r.peer,
    peerName: "node:net over kernel loopback",
  });
}

// ---- memory of idle connections ---------------------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** Opens `count` connections, moves 100 bytes each way, lets them go idle. */
async function openIdle(pair: ReturnType<typeof createPair>, count: number, port: number) {
  const flows: Flow[] = [];
  pair.b.tcp.listen(port, (f) => flows.push(f), { backlog: count });
  const clients: Flow[] = [];
  for (let i = 0; i < count; i += 1000) {
    const batch = await pair.world.run(
      Promise.all(
        Array.from({ length: Math.min(1000, count - i) }, () =>
          pair.a.tcp.connect("10.0.0.2", port),
        ),
      ),
    );
    clients.push(...batch);
  }
  await pair.world.run(Promise.all(clients.map((c) => c.write(payload.subarray(0, 100)))));
  await pair.world.run(Promise.all(flows.map((f) => f.read())));
  await pair.world.run(Promise.all(flows.map((f) => f.write(payload.subarray(0, 100)))));
  await pair.world.run(Promise.all(clients.map((c) => c.read())));
  await pair.world.advance(1e9);
  if (flows.length !== count) throw new Error("not all connections were established");
  return { flows, clients };
}

/** Bytes per endpoint (one TCB and its Flow) of idle established connections. */
async function atollIdleMemory(count: number): Promise<number> {
  const pair = createPair();
  // Warm-up: the test link's packet buffers reach their steady size and are not counted.
  const warm = await openIdle(pair, count, 81);
  for (const f of [...warm.flows, ...warm.clients]) f.abort();
  await pair.world.advance(1e9);
  const before = heap();
  const open = await openIdle(pair, count, 80);
  const after = heap();
  if (pair.a.engine.connectionCount !== count) throw new Error("connections missing");
  void open;
  return (after - before) / (2 * count);
}

async function nodeIdleMemory(count: number): Promise<number> {
  const server = net.createServer();
  const accepted: net.Socket[] = [];
  server.on("connection", (s) => {
    accepted.push(s);
    s.on("data", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", 4096, r));
  const port = (server.address() as net.AddressInfo).port;
  const before = heap();
  const clients: net.Socket[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(500, count - i) },
        () =>
          new Promise<net.Socket>((resolve) => {
            const c = net.connect(port, "127.0.0.1", () => resolve(c));
          }),
      ),
    );
    clients.push(...batch);
  }
  for (const c of clients) c.write(Buffer.from(payload.subarray(0, 100)));
  await new Promise((r) => setTimeout(r, 200));
  const after = heap();
  const per = (after - before) / (2 * count);
  for (const c of clients) c.destroy();
  for (const s of accepted) s.destroy();
  server.close();
  return per;
}

const IDLE = 10_000;
const atollIdle = await atollIdleMemory(IDLE);
// Node's peer uses 2,000 sockets (two descriptors each) to stay within descriptor limits.
const nodeIdle = await nodeIdleMemory(2000);
report({
  suite: "tcpip",
  name: `memory per idle established connection, one endpoint (${IDLE} connections, 100 B exchanged each way)`,
  unit: "KiB",
  higherIsBetter: false,
  atoll: atollIdle / 1024,
  peer: nodeIdle / 1024,
  peerName: "node:net socket, JS heap only (the kernel's socket memory is not counted)",
  target: "< 8 KiB",
});
