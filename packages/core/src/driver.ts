// Drivers: factories that say which signature they provide, which devices they
// need (by signature), which runtime arguments they read, and how to connect
// and disconnect. A driver value is inert until a unikernel connects it.

import type { ArgsSpec, ArgValues } from "./args.js";
import type { Logger } from "./log.js";
import type { IdOf, ShapeOf, Signature } from "./signature.js";

export type NeedsSpec = Readonly<Record<string, Signature<any, string>>>;
export type DevicesOf<N extends NeedsSpec> = { readonly [K in keyof N]: ShapeOf<N[K]> };

/** What a driver receives besides its devices and arguments. */
export interface ConnectContext {
  /** The binding key the driver is bound under (the first one when bound under several). */
  readonly name: string;
  /** A logger whose source is the binding key. */
  readonly log: Logger;
  /** Aborted when the start is abandoned (another device failed) or the unikernel stops. */
  readonly signal: AbortSignal;
}

export interface Driver<
  S extends Signature<any, string> = Signature<any, string>,
  N extends NeedsSpec = NeedsSpec,
  A extends ArgsSpec = ArgsSpec,
> {
  readonly kind: "atoll.driver";
  /** A descriptive name, `clock.system` or `netif.tap`, shown in the device graph. */
  readonly name: string;
  readonly provides: S;
  readonly needs: N;
  readonly args: A;
  connect(
    devices: DevicesOf<N>,
    args: ArgValues<A>,
    context: ConnectContext,
  ): Promise<ShapeOf<S>> | ShapeOf<S>;
  disconnect?(device: ShapeOf<S>): Promise<void> | void;
}

export type AnyDriver = Driver<any, any, any>;

export interface DriverDefinition<
  S extends Signature<any, string>,
  N extends NeedsSpec,
  A extends ArgsSpec,
> {
  readonly name: string;
  readonly provides: S;
  readonly needs?: N;
  readonly args?: A;
  connect(
    devices: DevicesOf<N>,
    args: ArgValues<A>,
    context: ConnectContext,
  ): Promise<ShapeOf<S>> | ShapeOf<S>;
  disconnect?(device: ShapeOf<S>): Promise<void> | void;
}

/**
 * Declares a driver. Write drivers as factories so each binding is its own instance:
 *
 * ```ts
 * export const memoryConsole = (opts = {}) =>
 *   driver({ name: "console.memory", provides: Console, async connect() { return new MemoryConsole(opts) } });
 * ```
 */
export function driver<
  const S extends Signature<any, string>,
  const N extends NeedsSpec = {},
  const A extends ArgsSpec = {},
>(definition: DriverDefinition<S, N, A>): Driver<S, N, A> {
  const d: Driver<S, N, A> = {
    kind: "atoll.driver",
    name: definition.name,
    provides: definition.provides,
    needs: (definition.needs ?? {}) as N,
    args: (definition.args ?? {}) as A,
    connect: definition.connect.bind(definition),
    ...(definition.disconnect === undefined
      ? {}
      : { disconnect: definition.disconnect.bind(definition) }),
  };
  return d;
}

export function isDriver(value: unknown): value is AnyDriver {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "atoll.driver" &&
    typeof (value as { connect?: unknown }).connect === "function"
  );
}

/** The device type a driver provides. */
export type DeviceOf<D> = D extends Driver<infer S, any, any> ? ShapeOf<S> : never;

// ---- Compile-time checks of bindings ------------------------------------------------------

/**
 * The type a binding for device `Name` must have. It is an intersection so that
 * the compiler keeps the alias, and its error messages name the device.
 */
export type Binding<Name extends string, S extends Signature<any, string>> = Driver<S, any, any> & {
  readonly __device?: Name;
};

/** The bindings an application with these needs requires, one per device name. */
export type AppBindings<N extends NeedsSpec> = {
  readonly [K in keyof N & string]: Binding<K, N[K]>;
};

type ProvidedIds<B> = {
  [K in keyof B]: B[K] extends Driver<infer S, any, any> ? IdOf<S> : never;
}[keyof B];
type NeedsOfDriver<D> = D extends Driver<any, infer N, any> ? N : never;
type UnmetNeeds<B> = {
  [K in keyof B]: {
    [n in keyof NeedsOfDriver<B[K]> as IdOf<NeedsOfDriver<B[K]>[n]> extends ProvidedIds<B>
      ? never
      : n]: NeedsOfDriver<B[K]>[n];
  };
}[keyof B];
type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type PropOfUnion<T, K extends PropertyKey> = T extends unknown
  ? K extends keyof T
    ? T[K]
    : never
  : never;

/**
 * The extra bindings that the bound drivers still need: one property per need that no
 * binding provides. Empty when the graph is complete. A driver need is met by any
 * binding that provides its signature, whatever the binding is called.
 */
export type DriverNeedsBindings<B> = {
  readonly [n in KeysOfUnion<UnmetNeeds<B>> & string]: Binding<n, PropOfUnion<UnmetNeeds<B>, n>>;
};
