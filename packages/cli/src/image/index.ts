// @atoll/cli/image: what goes inside a sealed image. `image(App, { bindings })`
// declares an image entry (the application plus the drivers sealed with it);
// every device still unbound becomes a slot the tender attaches. The rest is
// the runtime `atoll build` links in: boot over the boundary memory, bind the
// slots, run the application as @atoll/core/node's runMain would, and exit
// with its status. Platform-neutral: no host object is ever needed.

import {
  type AnyDriver,
  type ArgEntry,
  driver,
  isAtollError,
  isDriver,
  type NeedsSpec,
  signature,
  type Unikernel,
  type UnikernelFunctor,
} from "@atoll/core";
import { type SlotKind, slotKinds } from "../abi.js";
import type { ImageDescription, ManifestArg } from "../manifest.js";
import type { SlotFactory } from "./devices.js";
import { Machine } from "./machine.js";

export { Block, type BlockInfo, type SectorBuffers } from "@atoll/block";
export {
  blockSlot,
  clockSlot,
  consoleSlot,
  kvSlot,
  netSlot,
  randomSlot,
  type SlotFactory,
  slotFactories,
  timeSlot,
  wallClockSlot,
} from "./devices.js";
export { Machine } from "./machine.js";

export interface ImageOptions {
  /** Drivers sealed inside the image (a TCP/IP stack over the `netif` slot, a KV store over a block slot, ...). */
  readonly bindings?: Readonly<Record<string, AnyDriver>>;
}

export interface ImageEntry {
  readonly kind: "atoll.image";
  readonly functor: UnikernelFunctor<NeedsSpec>;
  readonly bindings: Readonly<Record<string, AnyDriver>>;
}

/**
 * Declares what an image contains: the application and the drivers sealed
 * with it. Every device that no binding provides becomes a slot:
 *
 * ```ts
 * export default image(Echo, { bindings: { stack: direct() } }); // slots: console, netif, clock, time, random
 * ```
 */
export function image<N extends NeedsSpec>(
  functor: UnikernelFunctor<N>,
  options: ImageOptions = {},
): ImageEntry {
  return {
    kind: "atoll.image",
    functor: functor as unknown as UnikernelFunctor<NeedsSpec>,
    bindings: options.bindings ?? {},
  };
}

const isFunctor = (value: unknown): value is UnikernelFunctor<NeedsSpec> =>
  typeof value === "function" &&
  typeof (value as { definition?: { needs?: unknown } }).definition?.needs === "object";

const isEntry = (value: unknown): value is ImageEntry =>
  typeof value === "object" &&
  value !== null &&
  (value as { kind?: unknown }).kind === "atoll.image";

/** An image entry, or a unikernel to seal with no bindings of its own. */
export const toEntry = (value: unknown): ImageEntry =>
  isEntry(value) ? value : image(value as UnikernelFunctor<NeedsSpec>);

/** Finds the image entry in a module: its default export, or its only unikernel. */
export function findEntry(mod: Readonly<Record<string, unknown>>): [name: string, ImageEntry] {
  const found = mod.default;
  if (isEntry(found) || isFunctor(found)) return ["default", toEntry(found)];
  const functors = Object.entries(mod).filter(([, v]) => isFunctor(v) || isEntry(v));
  if (functors.length === 1) return [functors[0]![0], toEntry(functors[0]![1])];
  throw new TypeError(
    functors.length === 0
      ? "the entry exports no unikernel: export default image(App) or export the createUnikernel result"
      : `the entry exports several unikernels (${functors.map(([k]) => k).join(", ")}): export default image(TheOne)`,
  );
}

/** The device slots an entry leaves to the tender, in order: slot name → signature id. */
export function slotsOf(entry: ImageEntry): Record<string, string> {
  const slots: Record<string, string> = {};
  const add = (name: string, id: string, who: string) => {
    const seen = slots[name];
    if (seen !== undefined && seen !== id)
      throw new TypeError(
        `slot "${name}" is needed as ${seen} and as ${id} (by ${who}); rename one`,
      );
    slots[name] = id;
  };
  for (const [key, value] of Object.entries(entry.bindings))
    if (!isDriver(value)) throw new TypeError(`binding "${key}" is not a driver`);
  const provided = new Set(Object.values(entry.bindings).map((d) => d.provides.id as string));
  for (const [name, sig] of Object.entries(entry.functor.definition.needs))
    if (entry.bindings[name] === undefined) add(name, sig.id, entry.functor.definition.name);
  for (const [key, d] of Object.entries(entry.bindings))
    for (const [need, sig] of Object.entries(d.needs as NeedsSpec))
      if (!provided.has(sig.id)) add(need, sig.id, `the driver bound to "${key}"`);
  for (const [name, id] of Object.entries(slots))
    if (slotKinds[id] === undefined)
      throw new TypeError(
        `slot "${name}" needs ${id}, which no tender can attach (it serves ${Object.keys(slotKinds).join(", ")}): bind a driver for "${name}" inside the image`,
      );
  return slots;
}

const manifestArg = (e: ArgEntry): ManifestArg => ({
  flag: e.flag,
  aliases: e.aliases,
  owner: e.owner,
  metavar: e.spec.metavar,
  form: e.spec.form,
  ...(e.spec.doc === undefined ? {} : { doc: e.spec.doc }),
  ...(e.spec.defaultValue === undefined || (e.spec.isFlag && e.spec.defaultValue === false)
    ? {}
    : { default: e.spec.format(e.spec.defaultValue) }),
  required: e.spec.required,
});

/** Used by `atoll build`: the name, slots and arguments of the entry module, as JSON. */
export function describeEntry(mod: Readonly<Record<string, unknown>>): string {
  const [exported, entry] = findEntry(mod);
  const slots = slotsOf(entry);
  // Placeholder drivers stand for the slots: applying the functor checks the whole graph.
  const bindings: Record<string, AnyDriver> = { ...entry.bindings };
  for (const [name, id] of Object.entries(slots))
    bindings[name] = driver({
      name: "slot",
      provides: signature()(id as `${string}/${number}`),
      connect: () => ({}),
    });
  const uk = entry.functor(bindings as never);
  const { name, description } = entry.functor.definition;
  const out: ImageDescription = {
    export: exported,
    name,
    ...(description === undefined ? {} : { description }),
    slots,
    args: uk.argEntries.map(manifestArg),
  };
  return JSON.stringify(out);
}

/**
 * Used by `atoll build`: the image's start function. The tender's vCPU calls it
 * once with the boundary memory; it returns the function the vCPU calls every turn.
 */
export function bootImage(
  exported: unknown,
  factories: Readonly<Partial<Record<SlotKind, SlotFactory>>>,
): (memory: SharedArrayBuffer) => () => void {
  return (memory) => {
    const machine = new Machine(memory);
    let name = "image";
    try {
      const entry = toEntry(exported);
      name = entry.functor.definition.name;
      const bindings: Record<string, AnyDriver> = { ...entry.bindings };
      for (const slot of machine.boot.slots) {
        const factory = factories[slot.kind];
        if (factory === undefined)
          throw new TypeError(
            `the tender attached slot "${slot.name}" as ${slot.kind}, which this image cannot use`,
          );
        bindings[slot.name] = factory(slot, machine);
      }
      void run(machine, entry.functor(bindings as never), machine.boot.argv);
    } catch (error) {
      report(machine, name, error);
      machine.exit(1);
    }
    return () => {
      try {
        machine.poll();
      } catch (error) {
        machine.write(`${name}: aborted: ${describe(error)}\n`, true);
        machine.halt(255);
      }
    };
  };
}

/** The Node runner's contract, inside the image: --help, exit codes, stop on request. */
async function run(machine: Machine, uk: Unikernel, argv: readonly string[]): Promise<void> {
  // --help never gets here: the tender answers it from the manifest.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  machine.onStop(() => void uk.stop().catch((error: unknown) => report(machine, uk.name, error)));
  try {
    // Without a console slot, logs still reach the tender's standard output.
    await uk.start(args, { env: {}, logSink: (line) => machine.write(line) });
  } catch (error) {
    report(machine, uk.name, error);
    machine.exit(isAtollError(error, "ATOLL_ARG_INVALID") ? 2 : 1);
    return;
  }
  try {
    if (uk.state === "finished") await uk.stop();
    machine.exit(await uk.exited);
  } catch (error) {
    report(machine, uk.name, error);
    machine.exit(1);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

function report(machine: Machine, name: string, error: unknown): void {
  if (isAtollError(error, "ATOLL_ARG_INVALID")) {
    machine.write(`${name}: ${error.message}\nTry -- --help for the list of arguments.\n`, true);
  } else if (isAtollError(error)) {
    const cause =
      error.cause instanceof Error && !isAtollError(error.cause)
        ? `\n${describe(error.cause)}`
        : "";
    machine.write(`${name}: ${error.message} [${error.code}]${cause}\n`, true);
  } else {
    machine.write(`${name}: ${describe(error)}\n`, true);
  }
}
