// Read-only views: a KvRw seen as a KvRo, at the device and at the driver level.

import { type ArgsSpec, type Driver, driver, type NeedsSpec } from "@atoll/core";
import { KvRo, type KvRw } from "./signature.js";

/** Only the KvRo methods of `kv`: nothing reachable through it can write. */
export function readOnlyView(kv: KvRo): KvRo {
  return Object.freeze({
    exists: kv.exists.bind(kv),
    get: kv.get.bind(kv),
    getPartial: kv.getPartial.bind(kv),
    list: kv.list.bind(kv),
    lastModified: kv.lastModified.bind(kv),
    digest: kv.digest.bind(kv),
    size: kv.size.bind(kv),
  });
}

/**
 * A KvRw driver bound where a KvRo is needed: the application gets a
 * read-only view; the store underneath connects and disconnects as usual.
 */
export function readOnlyKv<N extends NeedsSpec, A extends ArgsSpec>(
  inner: Driver<typeof KvRw, N, A>,
): Driver<typeof KvRo, N, A> {
  const below = new WeakMap<KvRo, KvRw>();
  return driver({
    name: `kv.read-only(${inner.name})`,
    provides: KvRo,
    needs: inner.needs,
    args: inner.args,
    async connect(devices, args, context) {
      const kv = await inner.connect(devices, args, context);
      const view = readOnlyView(kv);
      below.set(view, kv);
      return view;
    },
    async disconnect(view) {
      const kv = below.get(view);
      if (kv !== undefined) await inner.disconnect?.(kv);
    },
  }) as Driver<typeof KvRo, N, A>;
}
