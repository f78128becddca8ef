// Type tests, checked by `pnpm typecheck`: every @ts-expect-error must be an error.
import { expectTypeOf } from "vitest";
import { arg, createUnikernel, type Unikernel } from "../src/index.js";
import { journal, Out, outDriver, Store, storeDriver, Tick, tickDriver } from "./fixtures.js";

const j = journal();
const App = createUnikernel({
  name: "typed",
  needs: { out: Out, store: Store },
  args: {
    port: arg.port({ default: 80 }),
    name: arg.string(),
    maybe: arg.string({ optional: true }),
    mode: arg.enum(["fast", "safe"], { default: "safe" }),
    net: arg.cidr({ optional: true }),
    verbose: arg.bool(),
  },
  start(devices, args) {
    expectTypeOf(devices.out.write).toEqualTypeOf<(text: string) => void>();
    expectTypeOf(args.port).toEqualTypeOf<number>();
    expectTypeOf(args.name).toEqualTypeOf<string>();
    expectTypeOf(args.maybe).toEqualTypeOf<string | undefined>();
    expectTypeOf(args.mode).toEqualTypeOf<"fast" | "safe">();
    expectTypeOf(args.net).toEqualTypeOf<
      { readonly address: string; readonly prefix: number } | undefined
    >();
    expectTypeOf(args.verbose).toEqualTypeOf<boolean>();
  },
});

// A complete binding type-checks and gives a unikernel.
expectTypeOf(
  App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) }),
).toEqualTypeOf<Unikernel>();
// A driver need is met by whatever binding provides its signature.
App({ out: outDriver(j), store: storeDriver(j), anyName: tickDriver(j) });

// @ts-expect-error the application's device "store" is not bound
App({ out: outDriver(j), clock: tickDriver(j) });
// @ts-expect-error the store driver needs a monotonic clock and none is bound
App({ out: outDriver(j), store: storeDriver(j) });
// @ts-expect-error "out" is bound to a driver that provides another signature
App({ out: tickDriver(j), store: storeDriver(j), clock: tickDriver(j) });

// The signature value and the shape type share a name.
expectTypeOf(Tick.id).toEqualTypeOf<"atoll.clock.monotonic/1">();
