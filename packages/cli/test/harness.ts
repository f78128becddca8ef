// The image's devices in this process, over a real boundary memory, with a
// minimal tender loop: for the conformance suites of the boundary drivers.
// Network and block slots are served by the tender's own servers (NetServer,
// BlockServer) from host devices the test provides.
import type { Block } from "@atoll/block";
import type { AnyDriver } from "@atoll/core";
import type { KvRo, KvRw } from "@atoll/kv";
import type { Netif } from "@atoll/netif";
import { ConsoleInFlag, ConsoleOutFlag, Float, State, Word } from "../src/abi.js";
import { Machine } from "../src/image/machine.js";
import { CopyingRingConsumer, RingProducer } from "../src/ring.js";
import { layoutMemory, type SlotSpec } from "../src/tender/layout.js";
import { BlockServer, KvServer, NetServer, type ServerHost } from "../src/tender/serve.js";

export interface HostDevices {
  readonly net?: Readonly<Record<string, Netif>>;
  readonly block?: Readonly<Record<string, Block>>;
  readonly kv?: Readonly<Record<string, KvRo | KvRw>>;
}

export function machineHarness(slots: SlotSpec[] = [], devices: HostDevices = {}) {
  const layout = layoutMemory(slots, [], Date.now(), 3600);
  const memory = new SharedArrayBuffer(layout.memory.length);
  new Uint8Array(memory).set(layout.memory);
  const floats = new Float64Array(memory);
  const words = new Int32Array(memory);
  const origin = performance.now();
  const setNow = () => {
    floats[Float.now] = (performance.now() - origin) * 1e6;
  };
  setNow();
  const machine = new Machine(memory);
  const out = new CopyingRingConsumer(memory, layout.boot.console.out, 1 << 15);
  const input = new RingProducer(memory, layout.boot.console.in);
  const written: number[] = [];
  let closed = false;
  let scheduled = false;
  const turn = () => {
    scheduled = false;
    if (closed || words[Word.state] === State.exited) return;
    setNow();
    serve();
    machine.poll();
    // The image's microtasks run before the tender looks at what it produced.
    queueMicrotask(() => setImmediate(serve));
  };
  const host: ServerHost = {
    raise(index) {
      machine.raise(index);
      if (!scheduled) {
        scheduled = true;
        setImmediate(turn);
      }
    },
    violation(message) {
      throw new Error(`boundary violation: ${message}`);
    },
    get running() {
      return !closed;
    },
  };
  const servers: Array<NetServer | BlockServer | KvServer> = [];
  for (const slot of layout.boot.slots) {
    if (slot.kind === "net")
      servers.push(new NetServer(slot, devices.net![slot.name]!, memory, host));
    if (slot.kind === "block")
      servers.push(new BlockServer(slot, devices.block![slot.name]!, memory, host));
    if (slot.kind === "kv") servers.push(new KvServer(slot, devices.kv![slot.name]!, memory, host));
  }
  function serve() {
    if (closed) return;
    out.drain((entry) => void written.push(...entry.subarray(1)));
    if ((out.flags & ConsoleOutFlag.notify) !== 0) {
      out.clearFlag(ConsoleOutFlag.notify);
      host.raise(0);
    }
    for (const server of servers) server.serve();
    Atomics.store(words, Word.pending, 0);
  }
  const timer = setInterval(turn, 1);
  const connect = async (d: AnyDriver) =>
    d.connect({} as never, {} as never, {
      name: "test",
      log: undefined as never,
      signal: new AbortController().signal,
    });
  return {
    machine,
    boot: layout.boot,
    connect,
    written: () => Uint8Array.from(written),
    feed(bytes: Uint8Array) {
      input.push(bytes);
      host.raise(0);
    },
    endInput() {
      input.setFlag(ConsoleInFlag.ended);
      host.raise(0);
    },
    close: () => {
      closed = true;
      clearInterval(timer);
    },
  };
}
