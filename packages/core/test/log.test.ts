import { describe, expect, it } from "vitest";
import { createUnikernel, LogReporter, parseLogLevels } from "../src/index.js";
import { journal, Out, outDriver, Tick, tickDriver } from "./fixtures.js";

describe("logging", () => {
  it("parses per-source levels", () => {
    const levels = parseLogLevels("warn,tcp:debug,http:off")!;
    expect(levels.default).toBe("warn");
    expect([...levels.sources]).toEqual([
      ["tcp", "debug"],
      ["http", "off"],
    ]);
    expect(parseLogLevels("loud")).toBeUndefined();
    expect(parseLogLevels("tcp:")).toBeUndefined();
  });

  it("filters by the most specific source prefix and formats structured fields", () => {
    const lines: string[] = [];
    const reporter = new LogReporter({
      levels: parseLogLevels("warn,stack:debug,stack.arp:error")!,
      sink: (l) => lines.push(l),
    });
    const stack = reporter.logger("stack");
    stack.debug("up", { ip: "10.0.0.2", mtu: 1500 });
    stack.child("tcp").trace("dropped");
    stack.child("tcp").debug("syn", { port: 80 });
    stack.child("arp").warn("conflict");
    stack.child("arp").error("gone", { reason: "two words" });
    reporter.logger("other").info("hidden");
    reporter.logger("other").warn("shown");
    expect(lines).toEqual([
      "DBG stack: up ip=10.0.0.2 mtu=1500\n",
      "DBG stack.tcp: syn port=80\n",
      'ERR stack.arp: gone reason="two words"\n',
      "WRN other: shown\n",
    ]);
  });

  it("buffers lines until a sink attaches, within a bound", () => {
    const reporter = new LogReporter();
    const log = reporter.logger("x");
    for (let i = 0; i < LogReporter.maxPending + 10; i++) log.info(`line ${i}`);
    const lines: string[] = [];
    reporter.attach((l) => lines.push(l));
    expect(lines).toHaveLength(LogReporter.maxPending);
    expect(lines[0]).toBe("INF x: line 0\n");
  });

  it("reports through the unikernel's console, stamped by its monotonic clock, at the --log levels", async () => {
    const j = journal();
    const lines: string[] = [];
    const App = createUnikernel({
      name: "logger",
      needs: { out: Out, tick: Tick },
      start(_d, _a, { log }) {
        log.info("hello", { n: 1 });
        log.debug("quiet");
      },
    });
    const uk = App({ out: outDriver(j, "out", lines), tick: tickDriver(j) });
    await uk.start(["--log=info"]);
    await uk.stop();
    expect(lines).toEqual(["[    0.000000] INF logger: hello n=1\n"]);
  });

  it("reports to the start options' logSink when no Console is bound", async () => {
    const j = journal();
    const App = createUnikernel({
      name: "quiet",
      needs: { tick: Tick },
      start(_d, _a, { log }) {
        log.info("no console here");
      },
    });
    const sunk: string[] = [];
    const uk = App({ tick: tickDriver(j) });
    await uk.start([], { logSink: (line) => sunk.push(line) });
    await uk.stop();
    expect(sunk).toEqual(["[    0.000000] INF quiet: no console here\n"]);
  });
});
