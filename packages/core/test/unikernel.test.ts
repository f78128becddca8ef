import { describe, expect, it } from "vitest";
import {
  arg,
  BindingError,
  createUnikernel,
  DeviceConnectError,
  isAtollError,
} from "../src/index.js";
import {
  Cache,
  cacheDriver,
  journal,
  Out,
  outDriver,
  Store,
  storeDriver,
  Tick,
  tickDriver,
} from "./fixtures.js";

const App = createUnikernel({
  name: "app",
  needs: { out: Out, cache: Cache, store: Store },
  args: { greeting: arg.string({ default: "hi" }) },
  async start({ out, cache, store }, { greeting }) {
    out.write(`${greeting} ${cache.hit()} ${store.get("k")}`);
  },
});

describe("createUnikernel", () => {
  it("connects a driver bound once exactly once, however many devices need it", async () => {
    const j = journal();
    const lines: string[] = [];
    const uk = App({
      out: outDriver(j, "out", lines),
      cache: cacheDriver(j),
      store: storeDriver(j),
      clock: tickDriver(j),
    });
    await uk.start([]);
    expect(j.events.filter((e) => e.startsWith("connect tick"))).toHaveLength(1);
    expect(j.events.filter((e) => e.startsWith("connect store"))).toHaveLength(1);
    expect(lines).toEqual(["hi 1 k@/tmp/store"]);
    expect(uk.state).toBe("finished");
    await uk.stop();
    expect(uk.state).toBe("stopped");
    expect(await uk.exited).toBe(0);
  });

  it("connects in dependency order and disconnects in reverse", async () => {
    const j = journal();
    const uk = App({
      out: outDriver(j),
      cache: cacheDriver(j),
      store: storeDriver(j),
      clock: tickDriver(j, "tick", 5),
    });
    await uk.start([]);
    const connects = j.events.filter((e) => e.startsWith("connect")).map((e) => e.split(" ")[1]);
    expect(connects.indexOf("tick")).toBeLessThan(connects.indexOf("store"));
    expect(connects.indexOf("store")).toBeLessThan(connects.indexOf("cache"));
    j.events.length = 0;
    await uk.stop();
    const order = j.events.map((e) => e.split(" ")[1]);
    expect(order).toEqual([...connects].reverse());
  });

  it("connects independent devices concurrently", async () => {
    const j = journal();
    const Two = createUnikernel({ name: "two", needs: { a: Tick, b: Out }, start() {} });
    // `out` connects while the slow tick is still connecting.
    const uk = Two({ a: tickDriver(j, "slow", 30), b: outDriver(j) });
    await uk.start([]);
    expect(j.events.slice(0, 3)).toEqual(["start slow", "connect out", "connect slow 1000"]);
    await uk.stop();
  });

  it("on a connect failure, disconnects what was connected, in reverse, and names the device", async () => {
    const j = journal();
    const uk = App({
      out: outDriver(j),
      cache: cacheDriver(j),
      store: storeDriver(j, "store", { fail: true, delay: 10 }),
      clock: tickDriver(j),
    });
    const error = await uk.start([]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceConnectError);
    expect((error as DeviceConnectError).device).toBe("store");
    expect((error as Error).message).toContain('device "store"');
    expect((error as Error).message).toContain("cannot open /tmp/store");
    expect(isAtollError(error, "ATOLL_DEVICE_CONNECT_FAILED")).toBe(true);
    const connected = j.events.filter((e) => e.startsWith("connect")).map((e) => e.split(" ")[1]);
    const disconnected = j.events
      .filter((e) => e.startsWith("disconnect"))
      .map((e) => e.split(" ")[1]);
    expect(connected).not.toContain("cache");
    expect(disconnected).toEqual([...connected].reverse());
    expect(uk.state).toBe("failed");
    expect(await uk.exited).toBe(1);
  });

  it("on an application failure, disconnects everything and rejects with the app's error", async () => {
    const j = journal();
    const Boom = createUnikernel({
      name: "boom",
      needs: { out: Out },
      start() {
        throw new Error("boom");
      },
    });
    const uk = Boom({ out: outDriver(j) });
    await expect(uk.start([])).rejects.toThrow("boom");
    expect(j.events).toEqual(["connect out", "disconnect out"]);
  });

  it("keeps a serving application running until stop, then runs its cleanup before disconnecting", async () => {
    const j = journal();
    const Serve = createUnikernel({
      name: "serve",
      needs: { out: Out },
      start(_d, _a, ctx) {
        j.events.push("serving");
        return () => {
          j.events.push(`cleanup aborted=${ctx.signal.aborted}`);
        };
      },
    });
    const uk = Serve({ out: outDriver(j) });
    await uk.start();
    expect(uk.state).toBe("running");
    await Promise.all([uk.stop(), uk.stop()]);
    expect(j.events).toEqual(["connect out", "serving", "cleanup aborted=true", "disconnect out"]);
  });

  it("lets the application exit with a code", async () => {
    const j = journal();
    const Quit = createUnikernel({
      name: "quit",
      needs: { out: Out },
      start(_d, _a, ctx) {
        setTimeout(() => ctx.exit(3), 1);
        return () => {};
      },
    });
    const uk = Quit({ out: outDriver(j) });
    await uk.start();
    expect(await uk.exited).toBe(3);
    expect(j.events).toEqual(["connect out", "disconnect out"]);
  });

  it("refuses to start twice", async () => {
    const j = journal();
    const uk = App({
      out: outDriver(j),
      cache: cacheDriver(j),
      store: storeDriver(j),
      clock: tickDriver(j),
    });
    await uk.start();
    await expect(uk.start()).rejects.toMatchObject({ code: "ATOLL_LIFECYCLE" });
    await uk.stop();
  });

  it("exposes the application's declaration on the functor, for tools", () => {
    expect(App.definition.name).toBe("app");
    expect(Object.keys(App.definition.needs)).toEqual(["out", "cache", "store"]);
    expect(App.definition.needs.out.id).toBe(Out.id);
    expect(Object.keys(App.definition.args ?? {})).toEqual(["greeting"]);
  });

  it("exposes connected devices by name", async () => {
    const j = journal();
    const uk = App({
      out: outDriver(j),
      cache: cacheDriver(j),
      store: storeDriver(j),
      clock: tickDriver(j),
    });
    expect(uk.device("clock")).toBeUndefined();
    await uk.start();
    expect((uk.device("clock") as { now(): number }).now()).toBe(42);
    await uk.stop();
  });
});

describe("graph resolution, before anything connects", () => {
  const apply = (bindings: Record<string, unknown>) =>
    (App as (b: Record<string, unknown>) => unknown)(bindings);

  it("reports a missing application device", () => {
    const j = journal();
    expect(() => apply({ out: outDriver(j), cache: cacheDriver(j), clock: tickDriver(j) })).toThrow(
      /app needs device "store" \(test\.store\/1\)/,
    );
    expect(j.events).toEqual([]);
  });

  it("reports a missing driver need, naming both devices", () => {
    const j = journal();
    try {
      apply({ out: outDriver(j), cache: cacheDriver(j), store: storeDriver(j) });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BindingError);
      expect((error as BindingError).code).toBe("ATOLL_BINDING_MISSING");
      expect((error as Error).message).toMatch(/device "cache" .* needs "clock"/);
    }
  });

  it("reports a driver that provides the wrong signature", () => {
    const j = journal();
    expect(() =>
      apply({
        out: tickDriver(j),
        cache: cacheDriver(j),
        store: storeDriver(j),
        clock: tickDriver(j),
      }),
    ).toThrow(
      /device "out" must provide atoll\.console\/1, but its driver tick\.tick provides atoll\.clock\.monotonic\/1/,
    );
  });

  it("reports ambiguous bindings unless one is bound under the need's name", () => {
    const j = journal();
    expect(() =>
      apply({
        out: outDriver(j),
        cache: cacheDriver(j),
        store: storeDriver(j),
        t1: tickDriver(j),
        t2: tickDriver(j),
      }),
    ).toThrow(/several bindings provide it \("t1", "t2"\)/);
    expect(() =>
      apply({
        out: outDriver(j),
        cache: cacheDriver(j),
        store: storeDriver(j),
        clock: tickDriver(j),
        t2: tickDriver(j),
      }),
    ).not.toThrow();
  });

  it("reports cycles", () => {
    const j = journal();
    // A store that needs a cache, and a cache that needs the store.
    const loopStore = { ...storeDriver(j), needs: { cache: Cache } };
    expect(() =>
      apply({ out: outDriver(j), cache: cacheDriver(j), store: loopStore, clock: tickDriver(j) }),
    ).toThrow(/cycle: (cache → store → cache|store → cache → store)/);
  });

  it("rejects values that are not drivers", () => {
    const j = journal();
    expect(() =>
      apply({ out: outDriver(j), cache: cacheDriver(j), store: 42, clock: tickDriver(j) }),
    ).toThrow(/binding "store" is not a driver/);
  });
});

describe("describe()", () => {
  const j = journal();
  const shared = tickDriver(j);
  const uk = App({
    out: outDriver(j),
    cache: cacheDriver(j),
    store: storeDriver(j),
    clock: shared,
    extra: outDriver(j),
  });
  const graph = uk.describe();

  it("lists nodes and edges, including shared and unused bindings", () => {
    expect(graph.nodes.map((n) => n.id).sort()).toEqual(["cache", "clock", "out", "store"]);
    expect(graph.edges).toContainEqual({ from: "app", to: "cache", need: "cache" });
    expect(graph.edges).toContainEqual({ from: "cache", to: "clock", need: "clock" });
    expect(graph.edges).toContainEqual({ from: "store", to: "clock", need: "clock" });
    expect(graph.unused).toEqual(["extra"]);
  });

  it("renders text, Mermaid and DOT", () => {
    expect(graph.text()).toBe(
      [
        "app",
        "├─ out: out.out (atoll.console/1)",
        "├─ cache: cache.cache (test.cache/1)",
        "│  ├─ store: store.store (test.store/1)",
        "│  │  └─ clock: tick.tick (atoll.clock.monotonic/1)",
        "│  └─ clock: tick.tick (atoll.clock.monotonic/1)",
        "└─ store: store.store (test.store/1) …",
        "(unused bindings: extra)",
        "",
      ].join("\n"),
    );
    expect(graph.mermaid()).toContain("graph TD");
    expect(graph.mermaid()).toContain("d_cache -->|store| d_store");
    expect(graph.dot()).toMatch(/^digraph "app" \{/);
    expect(graph.dot()).toContain('"d:store" -> "d:clock" [label="clock"];');
  });
});
