// Removes what an ECMAScript realm holds beyond ECMAScript and beyond the
// image's rights, before any of the image's code runs. Serialized with
// toString and evaluated *inside* the image's realm, so everything it creates
// belongs to that realm: it must reference nothing outside its own body.

/**
 * - `console` (V8's own), `WebAssembly` (memory outside the heap limit, and not
 *   ECMAScript) and `Intl` (reads the host's clock, locale and time zone) go;
 * - `Date` keeps working on explicit times but `Date.now()` is NaN and `new Date()`
 *   an invalid date: wall time comes from the WallClock slot;
 * - `Math.random` throws: randomness comes from the Random slot.
 */
export function lockdownRealm(): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of ["console", "WebAssembly", "Intl"]) delete g[name];

  const HostDate = Date;
  // biome-ignore lint/suspicious/noShadowRestrictedNames: the tamed constructor keeps the name Date
  const TamedDate = function Date(this: unknown, ...args: unknown[]) {
    if (new.target === undefined) return "Invalid Date";
    return Reflect.construct(HostDate, args.length === 0 ? [Number.NaN] : args, new.target);
  } as unknown as DateConstructor;
  Object.defineProperties(TamedDate, {
    prototype: { value: HostDate.prototype },
    now: { value: () => Number.NaN, writable: true, configurable: true },
    UTC: { value: HostDate.UTC, writable: true, configurable: true },
    parse: { value: HostDate.parse, writable: true, configurable: true },
  });
  Object.defineProperty(HostDate.prototype, "constructor", {
    value: TamedDate,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(g, "Date", { value: TamedDate, writable: true, configurable: true });

  Object.defineProperty(Math, "random", {
    value: function random(): number {
      throw new TypeError(
        "Math.random is not available in a sealed image: take randomness from the Random device",
      );
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The lockdown as source for the image's realm. Tools that compile this file may
 * wrap functions in a `__name` helper (keepNames): a local stand-in keeps the
 * serialized function self-contained.
 */
export function lockdownSource(): string {
  return `(function(){const __name=(f)=>f;(${lockdownRealm.toString()})();})();`;
}
