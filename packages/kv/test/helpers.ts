// Connects KV drivers the way applications do: through a unikernel.
import { createUnikernel, type Driver, type Signature } from "@atoll/core";
import { KvRo, KvRw } from "../src/index.js";

type AnyDriver = Driver<Signature<any, string>, any, any>;

export async function connectRw(
  d: AnyDriver,
  extra: Record<string, AnyDriver> = {},
  argv: string[] = [],
) {
  let device!: KvRw;
  const App = createUnikernel({
    name: "kv-test",
    needs: { kv: KvRw },
    start({ kv }) {
      device = kv;
      return () => {};
    },
  });
  const uk = App({ kv: d, ...extra } as never);
  await uk.start(argv);
  return { kv: device, stop: () => uk.stop() };
}

export async function connectRo(
  d: AnyDriver,
  extra: Record<string, AnyDriver> = {},
  argv: string[] = [],
) {
  let device!: KvRo;
  const App = createUnikernel({
    name: "kv-test",
    needs: { kv: KvRo },
    start({ kv }) {
      device = kv;
      return () => {};
    },
  });
  const uk = App({ kv: d, ...extra } as never);
  await uk.start(argv);
  return { kv: device, stop: () => uk.stop() };
}
