// createUnikernel: the functor. An application names the devices it needs by
// signature; applying it to bindings resolves the device graph once and gives
// a unikernel that connects devices in dependency order, runs the application,
// and disconnects in reverse.

import {
  type ArgEntry,
  type ArgInput,
  type ArgSpec,
  type ArgsSpec,
  type ArgValues,
  arg,
  type Env,
  type HelpSection,
  parseArgs,
  renderHelp,
} from "./args.js";
import { type DeviceGraph, describeGraph } from "./describe.js";
import type { AppBindings, DevicesOf, DriverNeedsBindings, NeedsSpec } from "./driver.js";
import { DeviceConnectError, DeviceDisconnectError, LifecycleError } from "./errors.js";
import { type GraphNode, nodeName, type ResolvedGraph, resolveGraph } from "./graph.js";
import {
  formatLogLevels,
  isLogLevels,
  type Logger,
  type LogLevels,
  LogReporter,
  parseLogLevels,
} from "./log.js";

// `atoll build` (@atoll/cli) defines __ATOLL_SEALED__ when it bundles a sealed
// image, so that code only a host needs is left out of the image.
declare const __ATOLL_SEALED__: true | undefined;

/** What the application's start function receives besides its devices and arguments. */
export interface AppContext {
  readonly name: string;
  readonly log: Logger;
  /** Aborted when the unikernel is asked to stop. */
  readonly signal: AbortSignal;
  /** Asks the runner to stop the unikernel and exit with this code (0 by default). */
  exit(code?: number): void;
  /** The device graph this unikernel runs on. */
  describe(): DeviceGraph;
}

/** Returned by a start function that keeps serving after it returns; called on stop. */
export type Cleanup = () => void | Promise<void>;

export interface UnikernelDefinition<N extends NeedsSpec, A extends ArgsSpec> {
  readonly name: string;
  readonly description?: string;
  readonly needs: N;
  readonly args?: A;
  /**
   * Runs the application. Return nothing when the work is done (the runner then
   * stops the unikernel), or a cleanup function when the application keeps
   * serving until it is stopped.
   */
  start(
    devices: DevicesOf<N>,
    args: ArgValues<A>,
    context: AppContext,
  ): Promise<void | Cleanup> | void | Cleanup;
}

export type UnikernelState =
  | "ready"
  | "starting"
  | "running"
  | "finished"
  | "stopping"
  | "stopped"
  | "failed";

export interface StartOptions {
  /** Environment variables consulted for arguments that declare `env`. */
  readonly env?: Env;
  /**
   * Where log lines go while no Console device is connected (a sealed image
   * without a console slot writes them to its tender). Without it they wait,
   * up to a bound, for a Console.
   */
  readonly logSink?: (line: string) => void;
}

export interface Unikernel {
  readonly name: string;
  /**
   * `running`: the application returned a cleanup and is serving; `finished`: it returned
   * and has nothing left to do. Devices stay connected in both until `stop()`.
   */
  readonly state: UnikernelState;
  /** Parses arguments, connects devices in dependency order and runs the application. */
  start(input?: ArgInput, options?: StartOptions): Promise<void>;
  /** Runs the application's cleanup, then disconnects devices in reverse order. Idempotent. */
  stop(): Promise<void>;
  /** Resolves with the exit code once the unikernel has stopped. */
  readonly exited: Promise<number>;
  /** The `--help` text: the application's, every bound driver's and the runtime's arguments. */
  help(): string;
  describe(): DeviceGraph;
  /** The arguments accepted on the command line. */
  readonly argEntries: readonly ArgEntry[];
  /** A connected device by name (binding key), for tests and inspection. */
  device(name: string): unknown;
}

export interface UnikernelFunctor<N extends NeedsSpec> {
  <const B extends AppBindings<N>>(bindings: B & NoInfer<DriverNeedsBindings<B>>): Unikernel;
  /**
   * The application's declaration (name, needs, arguments), for tools that
   * reason about it without binding it, such as `atoll build` deriving an
   * image's device slots.
   */
  readonly definition: UnikernelDefinition<N, ArgsSpec>;
}

const runtimeArgs = {
  log: arg.custom(
    {
      metavar: "LEVELS",
      form: "log levels like info or debug,tcp:trace",
      parse: parseLogLevels,
      ...(typeof __ATOLL_SEALED__ !== "undefined"
        ? {}
        : {
            accept: (value: unknown) => (isLogLevels(value) ? value : undefined),
            format: formatLogLevels,
          }),
    },
    {
      doc: "log levels: a default and source:level pairs",
      default: parseLogLevels("info")!,
      env: "ATOLL_LOG",
    },
  ),
};

/**
 * Declares an application over signatures. The result is a functor: apply it to
 * bindings (a driver for every device the application and its drivers need).
 */
export function createUnikernel<const N extends NeedsSpec, const A extends ArgsSpec = {}>(
  definition: UnikernelDefinition<N, A>,
): UnikernelFunctor<N> {
  const functor = (bindings: Readonly<Record<string, unknown>>) =>
    new UnikernelInstance(definition, resolveGraph(definition.name, definition.needs, bindings));
  return Object.defineProperty(functor, "definition", {
    value: definition,
    enumerable: true,
  }) as unknown as UnikernelFunctor<N>;
}

interface Connected {
  readonly node: GraphNode;
  readonly device: unknown;
}

class UnikernelInstance<N extends NeedsSpec, A extends ArgsSpec> implements Unikernel {
  readonly #definition: UnikernelDefinition<N, A>;
  readonly #graph: ResolvedGraph;
  readonly #reporter = new LogReporter();
  readonly #entries: ArgEntry[];
  readonly #sections: HelpSection[];
  #state: UnikernelState = "ready";
  #connected: Connected[] = [];
  #devices = new Map<GraphNode, unknown>();
  #cleanup: Cleanup | undefined;
  #abort = new AbortController();
  #exitCode = 0;
  #stopping: Promise<void> | undefined;
  #resolveExited!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor(definition: UnikernelDefinition<N, A>, graph: ResolvedGraph) {
    this.#definition = definition;
    this.#graph = graph;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    const { entries, sections } = assembleArgs(definition.args ?? {}, graph);
    this.#entries = entries;
    this.#sections = sections;
  }

  get name(): string {
    return this.#definition.name;
  }

  get state(): UnikernelState {
    return this.#state;
  }

  get argEntries(): readonly ArgEntry[] {
    return this.#entries;
  }

  help(): string {
    // A sealed image's --help is printed by its tender, from the image's manifest.
    return typeof __ATOLL_SEALED__ !== "undefined"
      ? `${this.name}: its arguments are listed by \`atoll run IMAGE -- --help\`\n`
      : renderHelp(this.#definition.name, this.#definition.description, this.#sections);
  }

  describe(): DeviceGraph {
    return describeGraph(this.#graph);
  }

  device(name: string): unknown {
    const node = this.#graph.order.find((n) => n.keys.includes(name));
    return node === undefined ? undefined : this.#devices.get(node);
  }

  async start(input: ArgInput = [], options: StartOptions = {}): Promise<void> {
    if (this.#state !== "ready")
      throw new LifecycleError(`${this.name} cannot start: it is ${this.#state}`);
    // Arguments are checked before anything connects.
    const parsed = parseArgs(this.#entries, input, options.env ?? {});
    this.#state = "starting";
    this.#reporter.setLevels(parsed.get("runtime")!.log as LogLevels);
    this.#fallbackSink = options.logSink;
    if (this.#logSink === undefined) this.#reporter.attach(options.logSink);
    const log = this.#reporter.logger(this.name);
    try {
      await this.#connectAll(parsed);
    } catch (error) {
      this.#state = "failed";
      this.#resolveExited(1);
      throw error;
    }
    const devices: Record<string, unknown> = {};
    for (const [key, node] of this.#graph.app) devices[key] = this.#devices.get(node);
    const context: AppContext = {
      name: this.name,
      log,
      signal: this.#abort.signal,
      exit: (code = 0) => {
        this.#exitCode = code;
        void this.stop().catch(() => {});
      },
      describe: () => this.describe(),
    };
    try {
      const result = await this.#definition.start(
        devices as DevicesOf<N>,
        (parsed.get("app") ?? {}) as ArgValues<A>,
        context,
      );
      if (typeof result === "function") this.#cleanup = result;
      if (this.#state === "starting")
        this.#state = typeof result === "function" ? "running" : "finished";
    } catch (error) {
      log.error("application failed", { error });
      this.#exitCode = 1;
      await this.#disconnectAll().catch(() => {});
      this.#state = "failed";
      this.#resolveExited(1);
      throw error;
    }
  }

  stop(): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    if (this.#state === "ready" || this.#state === "failed") {
      this.#state = "stopped";
      this.#resolveExited(this.#exitCode);
      return (this.#stopping = Promise.resolve());
    }
    this.#state = "stopping";
    this.#abort.abort(new LifecycleError(`${this.name} is stopping`));
    this.#stopping = (async () => {
      const failures: unknown[] = [];
      if (this.#cleanup !== undefined) {
        try {
          await this.#cleanup();
        } catch (error) {
          failures.push(error);
        }
      }
      try {
        await this.#disconnectAll();
      } catch (error) {
        failures.push(error);
      }
      this.#state = "stopped";
      if (failures.length > 0 && this.#exitCode === 0) this.#exitCode = 1;
      this.#resolveExited(this.#exitCode);
      if (failures.length > 0) throw failures[0];
    })();
    return this.#stopping;
  }

  async #connectAll(parsed: Map<string, Record<string, unknown>>): Promise<void> {
    const pending = new Map<GraphNode, Promise<unknown>>();
    const connectOne = async (node: GraphNode): Promise<unknown> => {
      const deps: Record<string, unknown> = {};
      for (const [need, dep] of node.deps) deps[need] = await pending.get(dep);
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      const name = nodeName(node);
      let device: unknown;
      try {
        device = await node.driver.connect(deps as never, parsed.get(`device:${name}`) ?? {}, {
          name,
          log: this.#reporter.logger(name),
          signal: this.#abort.signal,
        });
      } catch (error) {
        const failure = new DeviceConnectError(name, node.driver.name, error);
        // Devices still connecting see the abort and may give up early.
        this.#abort.abort(failure);
        throw failure;
      }
      this.#connected.push({ node, device });
      this.#devices.set(node, device);
      this.#attachReporting(node, device);
      return device;
    };
    // The graph is in dependency order, so every dependency's promise exists before it is awaited.
    for (const node of this.#graph.order) {
      const p = connectOne(node);
      p.catch(() => {});
      pending.set(node, p);
    }
    const results = await Promise.allSettled(pending.values());
    const failure = firstConnectFailure(results);
    if (failure === undefined) return;
    await this.#disconnectAll().catch(() => {});
    throw failure;
  }

  /** Disconnects connected devices in the reverse order they connected in. */
  async #disconnectAll(): Promise<void> {
    let firstError: unknown;
    while (this.#connected.length > 0) {
      const { node, device } = this.#connected.pop()!;
      this.#devices.delete(node);
      this.#detachReporting(node);
      try {
        await node.driver.disconnect?.(device as never);
      } catch (error) {
        firstError ??= new DeviceDisconnectError(nodeName(node), node.driver.name, error);
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  // Logs go to the first Console in the graph, stamped by the first monotonic clock.
  #logSink: GraphNode | undefined;
  #logClock: GraphNode | undefined;
  #fallbackSink: ((line: string) => void) | undefined;

  #attachReporting(node: GraphNode, device: unknown): void {
    const id = node.driver.provides.id as string;
    if (
      this.#logSink === undefined &&
      id.startsWith("atoll.console/") &&
      hasMethod(device, "write")
    ) {
      this.#logSink = node;
      this.#reporter.attach((line) => device.write(line));
    }
    if (
      this.#logClock === undefined &&
      id.startsWith("atoll.clock.monotonic/") &&
      hasMethod(device, "now")
    ) {
      this.#logClock = node;
      this.#reporter.setClock(() => device.now() as number);
    }
  }

  #detachReporting(node: GraphNode): void {
    if (this.#logSink === node) {
      this.#logSink = undefined;
      this.#reporter.attach(this.#fallbackSink);
    }
    if (this.#logClock === node) {
      this.#logClock = undefined;
      this.#reporter.setClock(undefined);
    }
  }
}

function hasMethod<K extends string>(
  value: unknown,
  key: K,
): value is Record<K, (...args: any[]) => unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<K, unknown>)[key] === "function"
  );
}

function firstConnectFailure(results: PromiseSettledResult<unknown>[]): unknown {
  // A device skipped because a dependency failed rejects with that same failure; report the root cause.
  for (const r of results)
    if (r.status === "rejected" && r.reason instanceof DeviceConnectError) return r.reason;
  for (const r of results) if (r.status === "rejected") return r.reason;
  return undefined;
}

/**
 * Lays out the command line: application arguments keep their names; a driver's
 * argument keeps its bare name when no other owner uses it, and is always
 * accepted as `device.name`.
 */
function assembleArgs(
  appArgs: ArgsSpec,
  graph: ResolvedGraph,
): { entries: ArgEntry[]; sections: HelpSection[] } {
  const owners: Array<{
    owner: string;
    /** The driver's name, for a device's section of the help. */
    driver?: string;
    args: ArgsSpec;
    prefix: string | undefined;
  }> = [{ owner: "app", args: appArgs, prefix: undefined }];
  for (const node of graph.order) {
    const name = nodeName(node);
    owners.push({
      owner: `device:${name}`,
      driver: node.driver.name,
      args: node.driver.args as ArgsSpec,
      prefix: name,
    });
  }
  owners.push({ owner: "runtime", args: runtimeArgs, prefix: "atoll" });

  const uses = new Map<string, number>();
  for (const o of owners)
    for (const key of Object.keys(o.args)) uses.set(key, (uses.get(key) ?? 0) + 1);

  const entries: ArgEntry[] = [];
  const byOwner: ArgEntry[][] = [];
  for (const o of owners) {
    const own: ArgEntry[] = [];
    for (const [key, spec] of Object.entries(o.args)) {
      const qualified = o.prefix === undefined ? undefined : `${o.prefix}.${key}`;
      const bare = o.owner === "app" || uses.get(key) === 1;
      const flag = bare ? key : qualified!;
      const aliases = qualified !== undefined && qualified !== flag ? [qualified] : [];
      own.push({ flag, aliases, key, owner: o.owner, spec: spec as ArgSpec<unknown> });
    }
    entries.push(...own);
    byOwner.push(own);
  }
  // Sections are for help(), which a sealed image leaves to its tender.
  if (typeof __ATOLL_SEALED__ !== "undefined") return { entries, sections: [] };
  const sections: HelpSection[] = owners.map((o, i) => ({
    title:
      o.owner === "app"
        ? "Application"
        : o.owner === "runtime"
          ? "Runtime"
          : `Device "${o.prefix}" (${o.driver})`,
    entries: byOwner[i]!,
  }));
  sections.push({
    title: "Help",
    entries: [
      {
        flag: "help",
        aliases: [],
        key: "help",
        owner: "runtime",
        spec: { ...arg.bool({ doc: "print this help and exit" }), defaultValue: undefined },
      },
    ],
  });
  return { entries, sections };
}
