// The image's devices in this process, over a real boundary memory, with a
// minimal tender loop: for the conformance suites of the boundary drivers.
import type { AnyDriver } from "@atoll/core";
import { ConsoleInFlag, ConsoleOutFlag, Float, State, Word } from "../src/abi.js";
import { Machine } from "../src/image/machine.js";
import { RingConsumer, RingProducer } from "../src/ring.js";
import { layoutMemory, type SlotSpec } from "../src/tender/layout.js";

export function machineHarness(slots: SlotSpec[] = []) {
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
  const out = new RingConsumer(memory, layout.boot.console.out, 1 << 15, true);
  const input = new RingProducer(memory, layout.boot.console.in);
  const written: number[] = [];
  const serve = () => {
    out.drain((entry) => void written.push(...entry.subarray(1)));
    if ((out.flags & ConsoleOutFlag.notify) !== 0) {
      out.clearFlag(ConsoleOutFlag.notify);
      machine.raise(0);
    }
  };
  const timer = setInterval(() => {
    if (words[Word.state] === State.exited) return;
    setNow();
    serve();
    machine.poll();
  }, 1);
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
      machine.raise(0);
    },
    endInput() {
      input.setFlag(ConsoleInFlag.ended);
      machine.raise(0);
    },
    close: () => clearInterval(timer),
  };
}
