import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ArgEntry, ArgumentError, arg, createUnikernel, parseArgs } from "../src/index.js";
import { journal, Out, outDriver, Store, storeDriver, tickDriver } from "./fixtures.js";

const entry = (flag: string, spec: ArgEntry["spec"]): ArgEntry => ({
  flag,
  aliases: [],
  key: flag,
  owner: "app",
  spec,
});
const parseOne = (
  spec: ArgEntry["spec"],
  input: readonly string[] | Record<string, unknown>,
  env = {},
) => parseArgs([entry("x", spec)], input, env).get("app")!.x;
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as ArgumentError;
  }
  throw new Error("expected an error");
};

describe("argument types", () => {
  it("parses each type from text", () => {
    expect(parseOne(arg.string(), ["--x=hello world"])).toBe("hello world");
    expect(parseOne(arg.int(), ["--x", "-12"])).toBe(-12);
    expect(parseOne(arg.int(), ["--x=1_000"])).toBe(1000);
    expect(parseOne(arg.port(), ["--x=8080"])).toBe(8080);
    expect(parseOne(arg.bool(), ["--x"])).toBe(true);
    expect(parseOne(arg.bool({ default: true }), ["--no-x"])).toBe(false);
    expect(parseOne(arg.bool(), ["--x=yes"])).toBe(true);
    expect(parseOne(arg.bool(), [])).toBe(false);
    expect(parseOne(arg.enum(["tcp", "udp"]), ["--x=udp"])).toBe("udp");
    expect(parseOne(arg.ipv4(), ["--x=10.0.0.2"])).toBe("10.0.0.2");
    expect(parseOne(arg.cidr(), ["--x=10.0.0.2/24"])).toEqual({ address: "10.0.0.2", prefix: 24 });
    expect(parseOne(arg.duration(), ["--x=1m30s"])).toBe(90e9);
    expect(parseOne(arg.duration(), ["--x=250ms"])).toBe(250e6);
    expect(parseOne(arg.bytes(), ["--x=64KiB"])).toBe(65536);
    expect(parseOne(arg.bytes(), ["--x=1.5MB"])).toBe(1_500_000);
  });

  it("rejects malformed values with the argument's name and expected form", () => {
    const cases: Array<[ArgEntry["spec"], string, RegExp]> = [
      [arg.int({ min: 1, max: 10 }), "11", /--x: expected an integer between 1 and 10, got "11"/],
      [arg.int(), "1.5", /expected an integer/],
      [arg.port(), "65536", /expected a port number between 0 and 65535/],
      [arg.port(), "http", /expected a port number/],
      [arg.bool(), "maybe", /expected true or false/],
      [arg.enum(["a", "b"]), "c", /expected one of "a", "b", got "c"/],
      [arg.ipv4(), "10.0.0.256", /expected an IPv4 address like 10\.0\.0\.2/],
      [arg.ipv4(), "010.0.0.1", /expected an IPv4 address/],
      [arg.cidr(), "10.0.0.2/33", /expected an IPv4 address with prefix length/],
      [arg.cidr(), "10.0.0.2", /expected an IPv4 address with prefix length/],
      [arg.duration(), "10", /expected a duration like 30s/],
      [arg.duration(), "5 parsecs", /expected a duration/],
      [arg.bytes(), "12 bananas", /expected a size like 4096/],
    ];
    for (const [spec, text, pattern] of cases) {
      const error = errorOf(() => parseOne(spec, [`--x=${text}`]));
      expect(error).toBeInstanceOf(ArgumentError);
      expect(error.code).toBe("ATOLL_ARG_INVALID");
      expect(error.argument).toBe("x");
      expect(error.message).toMatch(pattern);
    }
  });

  it("reports unknown, missing and required arguments", () => {
    expect(errorOf(() => parseOne(arg.string(), ["--y=1"])).message).toBe(
      "unknown argument --y (see --help)",
    );
    expect(errorOf(() => parseOne(arg.string(), ["--x"])).message).toMatch(/--x: missing value/);
    expect(errorOf(() => parseOne(arg.string(), [])).message).toMatch(/--x is required/);
    expect(errorOf(() => parseOne(arg.string(), ["positional"])).message).toMatch(
      /unexpected argument "positional"/,
    );
    expect(parseOne(arg.string({ optional: true }), [])).toBeUndefined();
  });

  it("takes values from the environment, below the command line and above the default", () => {
    const spec = arg.int({ default: 1, env: "X" });
    expect(parseOne(spec, [], {})).toBe(1);
    expect(parseOne(spec, [], { X: "2" })).toBe(2);
    expect(parseOne(spec, ["--x=3"], { X: "2" })).toBe(3);
    expect(errorOf(() => parseOne(spec, [], { X: "two" })).message).toMatch(
      /--x \(from X\): expected an integer/,
    );
  });

  it("accepts typed values and text from an object", () => {
    expect(parseOne(arg.port(), { x: 80 })).toBe(80);
    expect(parseOne(arg.port(), { x: "81" })).toBe(81);
    expect(parseOne(arg.cidr(), { x: { address: "10.1.2.3", prefix: 8 } })).toEqual({
      address: "10.1.2.3",
      prefix: 8,
    });
    expect(errorOf(() => parseOne(arg.port(), { x: 1.5 })).message).toMatch(
      /expected a port number/,
    );
    expect(errorOf(() => parseOne(arg.port(), { x: true })).message).toMatch(/got "true"|got true/);
  });

  it("rejects a default that does not have the declared form", () => {
    expect(() => arg.port({ default: 70000 })).toThrow(/default 70000 is not a port number/);
  });

  it("round-trips every valid port and never throws anything but ArgumentError", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        (n) => parseOne(arg.port(), [`--x=${n}`]) === n,
      ),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        for (const spec of [
          arg.int(),
          arg.ipv4(),
          arg.cidr(),
          arg.duration(),
          arg.bytes(),
          arg.bool(),
        ]) {
          try {
            parseOne(spec, [`--x=${text}`]);
          } catch (e) {
            if (!(e instanceof ArgumentError)) return false;
          }
        }
        return true;
      }),
    );
  });
});

describe("the assembled command line", () => {
  const App = createUnikernel({
    name: "demo",
    description: "a demonstration",
    needs: { out: Out, store: Store },
    args: {
      port: arg.port({ default: 8080, doc: "port to listen on" }),
      path: arg.string({ optional: true }),
    },
    start() {},
  });

  it("namespaces a driver argument that clashes with another, and keeps unique ones bare", async () => {
    const j = journal();
    const uk = App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) });
    const flags = uk.argEntries.map((e) => e.flag);
    expect(flags).toEqual(["port", "path", "resolution", "store.path", "log"]);
    await uk.start(["--store.path=/data", "--path=/app", "--clock.resolution=2ms"]);
    expect(j.events).toContain("connect store /data t=42");
    expect(j.events).toContain("connect tick 2000000");
    await uk.stop();
  });

  it("reads driver arguments from the environment", async () => {
    const j = journal();
    const uk = App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) });
    await uk.start([], { env: { STORE_PATH: "/env" } });
    expect(j.events).toContain("connect store /env t=42");
    await uk.stop();
  });

  it("checks arguments before connecting anything", async () => {
    const j = journal();
    const uk = App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) });
    await expect(uk.start(["--port=http"])).rejects.toThrow(/--port: expected a port number/);
    expect(j.events).toEqual([]);
  });

  it("renders --help with the app's, every driver's and the runtime's arguments", () => {
    const j = journal();
    const help = App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) }).help();
    expect(help).toContain("demo — a demonstration");
    expect(help).toMatch(/Application:\n {2}--port=PORT +port to listen on \(default: 8080\)/);
    expect(help).toMatch(
      /Device "store" \(store\.store\):\n {2}--store\.path=TEXT +where the store lives \(default: \/tmp\/store, env: STORE_PATH\)/,
    );
    expect(help).toMatch(
      /Device "clock" \(tick\.tick\):\n {2}--resolution=DURATION +tick resolution \(default: 1us\)/,
    );
    expect(help).toMatch(/Runtime:\n {2}--log=LEVELS/);
    expect(help).toContain("--help");
  });
});
