// Memory switch throughput: full-size (1514 B) and minimum-size (64 B)
// Ethernet frames from one port to another, through learning, a copy into a
// pooled buffer, the bounded queue and batched microtask delivery. Peers in
// the same run: an EventEmitter handing each frame to its listener as a fresh
// copy (`frame.slice()`, the same copy semantics, no queue, synchronous), and
// Node's MessageChannel (`postMessage`, structured clone, a macrotask each).
import { EventEmitter } from "node:events";
import { MessageChannel } from "node:worker_threads";
import { compare, opsPerSecond, report } from "@atoll/bench";
import { VirtualTime } from "@atoll/clock";
import { SeededRandom } from "@atoll/entropy";
import { ImpairedNetif, MemorySwitch } from "@atoll/netif";

const BURST = 256;
const MS = 800;

function frameOf(size: number, dst: Uint8Array, src: Uint8Array): Uint8Array {
  const frame = new Uint8Array(size);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = 0x08;
  for (let i = 14; i < size; i++) frame[i] = i & 0xff;
  return frame;
}

/** Frames per second through a switch, a → b, in bursts; `wrap` optionally puts something around port a. */
function switchRun(
  size: number,
  wrap?: (port: ReturnType<MemorySwitch["attach"]>) => { write(f: Uint8Array): boolean },
) {
  const sw = new MemorySwitch({ id: 1 });
  const a = sw.attach();
  const b = sw.attach();
  let received = 0;
  let bytes = 0;
  let want = 0;
  let done: (() => void) | undefined;
  b.listen((frame) => {
    received++;
    bytes += frame[frame.length - 1]! & 1; // touch the frame
    if (received === want) done?.();
  });
  // b speaks once so the switch knows where it is: a → b is then forwarded, not flooded.
  b.write(frameOf(64, a.mac, b.mac));
  const sender = wrap ? wrap(a) : a;
  const frame = frameOf(size, b.mac, a.mac);
  return () =>
    opsPerSecond(
      () =>
        new Promise<number>((resolve) => {
          want = received + BURST;
          done = () => resolve(BURST);
          for (let i = 0; i < BURST; i++) sender.write(frame);
        }),
      { ms: MS },
    ).then((fps) => {
      if (bytes < 0) throw new Error("unreachable");
      return fps;
    });
}

function emitterRun(size: number) {
  const emitter = new EventEmitter();
  let received = 0;
  let bytes = 0;
  emitter.on("frame", (frame: Uint8Array) => {
    received++;
    bytes += frame[frame.length - 1]! & 1;
  });
  const frame = frameOf(size, new Uint8Array(6), new Uint8Array(6));
  return () =>
    opsPerSecond(
      async () => {
        for (let i = 0; i < BURST; i++) emitter.emit("frame", frame.slice());
        return BURST;
      },
      { ms: MS },
    ).then((fps) => (received + bytes >= 0 ? fps : 0));
}

function channelRun(size: number) {
  const { port1, port2 } = new MessageChannel();
  let received = 0;
  let want = 0;
  let done: (() => void) | undefined;
  port2.on("message", () => {
    received++;
    if (received === want) done?.();
  });
  const frame = frameOf(size, new Uint8Array(6), new Uint8Array(6));
  return () =>
    opsPerSecond(
      () =>
        new Promise<number>((resolve) => {
          want = received + BURST;
          done = () => resolve(BURST);
          for (let i = 0; i < BURST; i++) port1.postMessage(frame);
        }),
      { ms: MS },
    ).finally(() => {
      port1.close();
    });
}

const gbps = (fps: number, size: number) => (fps * size * 8) / 1e9;

// Full-size frames against both peers.
{
  const size = 1514;
  const vsEmitter = await compare(switchRun(size), emitterRun(size));
  report({
    suite: "netif",
    name: "memory switch, 1514 B frames a → b",
    unit: "Gbit/s",
    higherIsBetter: true,
    atoll: gbps(vsEmitter.atoll, size),
    peer: gbps(vsEmitter.peer, size),
    peerName: "EventEmitter + frame.slice()",
    note: `${(vsEmitter.atoll / 1e6).toFixed(2)} M frames/s`,
  });
  const vsChannel = await compare(switchRun(size), channelRun(size), { rounds: 1 });
  report({
    suite: "netif",
    name: "memory switch, 1514 B frames a → b",
    unit: "Gbit/s",
    higherIsBetter: true,
    atoll: gbps(vsChannel.atoll, size),
    peer: gbps(vsChannel.peer, size),
    peerName: "MessageChannel postMessage",
  });
}

// Minimum-size frames: the per-frame cost.
{
  const size = 64;
  const r = await compare(switchRun(size), emitterRun(size));
  report({
    suite: "netif",
    name: "memory switch, 64 B frames a → b",
    unit: "M frames/s",
    higherIsBetter: true,
    atoll: r.atoll / 1e6,
    peer: r.peer / 1e6,
    peerName: "EventEmitter + frame.slice()",
  });
}

// The cost of an impairment wrapper with nothing configured, next to the bare port.
{
  const size = 1514;
  const world = new VirtualTime();
  const devices = { clock: world.clock, time: world.timers, random: new SeededRandom(1) };
  const r = await compare(
    switchRun(size, (port) => new ImpairedNetif(port, devices)),
    switchRun(size),
  );
  report({
    suite: "netif",
    name: "impair() with nothing configured, 1514 B frames",
    unit: "Gbit/s",
    higherIsBetter: true,
    atoll: gbps(r.atoll, size),
    peer: gbps(r.peer, size),
    peerName: "the bare switch port",
  });
}
