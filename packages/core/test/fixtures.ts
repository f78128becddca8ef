// Test signatures and drivers that record what happens to them.
import { arg, type Device, driver, signature } from "../src/index.js";

export interface Out extends Device {
  write(text: string): void;
}
export const Out = signature<Out>()("atoll.console/1");
export interface Tick extends Device {
  now(): number;
}
export const Tick = signature<Tick>()("atoll.clock.monotonic/1");
export interface Store extends Device {
  get(key: string): string | undefined;
}
export const Store = signature<Store>()("test.store/1");
export interface Cache extends Device {
  hit(): number;
}
export const Cache = signature<Cache>()("test.cache/1");

export interface Journal {
  events: string[];
}

export const journal = (): Journal => ({ events: [] });

export const outDriver = (j: Journal, name = "out", lines: string[] = []) =>
  driver({
    name: `out.${name}`,
    provides: Out,
    async connect() {
      j.events.push(`connect ${name}`);
      return { write: (text: string) => void lines.push(text) };
    },
    async disconnect() {
      j.events.push(`disconnect ${name}`);
    },
  });

export const tickDriver = (j: Journal, name = "tick", delay = 0) =>
  driver({
    name: `tick.${name}`,
    provides: Tick,
    args: { resolution: arg.duration({ default: 1_000, doc: "tick resolution" }) },
    async connect(_devices, { resolution }) {
      j.events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, delay));
      j.events.push(`connect ${name} ${resolution}`);
      return { now: () => 42 };
    },
    async disconnect() {
      j.events.push(`disconnect ${name}`);
    },
  });

export const storeDriver = (
  j: Journal,
  name = "store",
  options: { fail?: boolean; delay?: number } = {},
) =>
  driver({
    name: `store.${name}`,
    provides: Store,
    needs: { clock: Tick },
    args: {
      path: arg.string({ default: "/tmp/store", doc: "where the store lives", env: "STORE_PATH" }),
    },
    async connect({ clock }, { path }) {
      j.events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, options.delay ?? 0));
      if (options.fail) throw new Error(`${name} cannot open ${path}`);
      j.events.push(`connect ${name} ${path} t=${clock.now()}`);
      return { get: (key: string) => `${key}@${path}` };
    },
    async disconnect() {
      j.events.push(`disconnect ${name}`);
    },
  });

export const cacheDriver = (j: Journal, name = "cache") =>
  driver({
    name: `cache.${name}`,
    provides: Cache,
    needs: { store: Store, clock: Tick },
    async connect({ store }) {
      j.events.push(`connect ${name}`);
      return { hit: () => (store.get("x") === undefined ? 0 : 1) };
    },
    async disconnect() {
      j.events.push(`disconnect ${name}`);
    },
  });
