import process from "node:process";
import { describe, expect, it } from "vitest";
import { arg, createUnikernel } from "../src/index.js";
import { runMain } from "../src/node.js";
import { journal, Out, outDriver, Store, storeDriver, tickDriver } from "./fixtures.js";

const sink = () => {
  const chunks: string[] = [];
  return {
    write: (t: string) => chunks.push(t),
    get text() {
      return chunks.join("");
    },
  };
};

const Batch = createUnikernel({
  name: "batch",
  needs: { out: Out },
  args: { count: arg.int({ min: 1, default: 1, doc: "how many" }) },
  start({ out }, { count }) {
    out.write(`count=${count}`);
  },
});

describe("runMain (the Node runner)", () => {
  it("prints --help to stdout and exits 0 without connecting", async () => {
    const j = journal();
    const stdout = sink();
    const code = await runMain(Batch({ out: outDriver(j) }), {
      argv: ["--help"],
      exit: false,
      stdout,
    });
    expect(code).toBe(0);
    expect(stdout.text).toContain("--count=N");
    expect(j.events).toEqual([]);
  });

  it("exits 2 on a bad argument with a one-line message and no stack trace", async () => {
    const j = journal();
    const stderr = sink();
    const code = await runMain(Batch({ out: outDriver(j) }), {
      argv: ["--count=0"],
      exit: false,
      stderr,
    });
    expect(code).toBe(2);
    expect(stderr.text).toBe(
      'batch: --count: expected an integer >= 1, got "0"\nTry --help for the list of arguments.\n',
    );
    expect(j.events).toEqual([]);
  });

  it("runs a batch application to completion, disconnects, and exits 0", async () => {
    const j = journal();
    const lines: string[] = [];
    const code = await runMain(Batch({ out: outDriver(j, "out", lines) }), {
      argv: ["--count=3"],
      exit: false,
    });
    expect(code).toBe(0);
    expect(lines).toEqual(["count=3"]);
    expect(j.events).toEqual(["connect out", "disconnect out"]);
  });

  it("exits 1 and names the device when a driver fails to connect", async () => {
    const j = journal();
    const stderr = sink();
    const App = createUnikernel({ name: "app", needs: { store: Store }, start() {} });
    const code = await runMain(
      App({ store: storeDriver(j, "store", { fail: true }), clock: tickDriver(j) }),
      {
        argv: [],
        exit: false,
        stderr,
      },
    );
    expect(code).toBe(1);
    expect(stderr.text).toMatch(
      /^app: device "store" \(store\.store\) failed to connect: store cannot open/,
    );
    expect(j.events).toContain("disconnect tick");
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`stops a serving application cleanly on ${signal}`, async () => {
      const j = journal();
      const Serve = createUnikernel({
        name: "serve",
        needs: { out: Out },
        start() {
          j.events.push("serving");
          return () => void j.events.push("cleanup");
        },
      });
      const running = runMain(Serve({ out: outDriver(j) }), { argv: [], exit: false });
      while (!j.events.includes("serving")) await new Promise((r) => setTimeout(r, 1));
      process.emit(signal, signal);
      expect(await running).toBe(0);
      expect(j.events).toEqual(["connect out", "serving", "cleanup", "disconnect out"]);
      expect(process.listenerCount(signal)).toBe(0);
    });
  }
});
