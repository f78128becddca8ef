import { PassThrough } from "node:stream";
import { createUnikernel } from "@atoll/core";
import { describe, expect, it } from "vitest";
import { consoleConformance } from "../src/conformance.js";
import { browserConsole, Console, lines, memoryConsole } from "../src/index.js";
import { stdio } from "../src/node.js";

/** Connects a console driver through a unikernel, as applications do. */
async function connect(
  d: Parameters<ReturnType<typeof createUnikernel<{ console: typeof Console }>>>[0]["console"],
) {
  let device!: Console;
  const App = createUnikernel({
    name: "console-test",
    needs: { console: Console },
    start({ console }) {
      device = console;
      return () => {};
    },
  });
  const uk = App({ console: d });
  await uk.start();
  return { console: device, stop: () => uk.stop() };
}

consoleConformance({
  name: "memory",
  async setup() {
    const d = memoryConsole({ openInput: true });
    const c = await connect(d);
    return {
      ...c,
      written: () => d.console.bytes(),
      feed: (b) => d.console.feed(b),
      endInput: () => d.console.endInput(),
    };
  },
  teardown: (h) => h.stop(),
});

consoleConformance({
  name: "stdio",
  async setup() {
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on("data", (c: Buffer) => chunks.push(c));
    const c = await connect(stdio({ stdout, stdin }));
    return {
      ...c,
      written: () => new Uint8Array(Buffer.concat(chunks)),
      feed: (b) => void stdin.write(b),
      endInput: () => void stdin.end(),
    };
  },
  teardown: (h) => h.stop(),
});

function pushable() {
  const queue: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(b: Uint8Array) {
      queue.push(b);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const b = queue.shift();
        if (b !== undefined) yield b;
        else if (ended) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

consoleConformance({
  name: "browser",
  async setup() {
    const logged: string[] = [];
    const input = pushable();
    const c = await connect(
      browserConsole({ target: { log: (line: unknown) => logged.push(String(line)) }, input }),
    );
    return {
      ...c,
      // devtools shows lines; the newline structure is what survives.
      written: () => new TextEncoder().encode(logged.map((l) => `${l}\n`).join("")),
      feed: (b) => input.push(b),
      endInput: () => input.end(),
    };
  },
  teardown: (h) => h.stop(),
});

describe("console helpers and drivers", () => {
  it("splits input into lines across chunk and UTF-8 boundaries", async () => {
    const bytes = new TextEncoder().encode("añb\r\nsecond\nlast");
    async function* chunks() {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    }
    const out: string[] = [];
    for await (const line of lines(chunks())) out.push(line);
    expect(out).toEqual(["añb", "second", "last"]);
  });

  it("the memory console plays scripted input and captures output", async () => {
    const d = memoryConsole({ input: ["a\n", "b\n"] });
    const { console, stop } = await connect(d);
    const got: string[] = [];
    for await (const line of lines(console.input())) got.push(line);
    console.write(got.join("+"));
    expect(d.console.text()).toBe("a+b");
    await stop();
  });

  it("the memory console bounds what it keeps", async () => {
    const d = memoryConsole({ maxOutputBytes: 10 });
    const { console, stop } = await connect(d);
    for (let i = 0; i < 100; i++) console.write("12345");
    expect(d.console.bytes().length).toBeLessThanOrEqual(10);
    expect(d.console.text().endsWith("12345")).toBe(true);
    await stop();
  });

  it("stdio stops reading input when disconnected, so the process can exit", async () => {
    const stdin = new PassThrough();
    const { console, stop } = await connect(stdio({ stdout: new PassThrough(), stdin }));
    const it = console.input()[Symbol.asyncIterator]();
    const next = it.next();
    await stop();
    expect(await next).toEqual({ done: true, value: undefined });
    expect(stdin.isPaused()).toBe(true);
  });
});
