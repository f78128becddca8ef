// The device graph: which driver serves each device the application needs,
// and which drivers serve the drivers' own needs. Resolved once, before any
// connect, so missing, mismatched, ambiguous and cyclic bindings are reported
// while nothing has been touched yet.

import type { AnyDriver, NeedsSpec } from "./driver.js";
import { isDriver } from "./driver.js";
import { BindingError } from "./errors.js";

export interface GraphNode {
  readonly driver: AnyDriver;
  /** Every binding key this driver is bound under; the first names the device. */
  readonly keys: string[];
  /** Need name → the node serving it. */
  readonly deps: Map<string, GraphNode>;
}

export interface ResolvedGraph {
  readonly appName: string;
  /** Nodes in dependency order: every node comes after the nodes it needs. */
  readonly order: readonly GraphNode[];
  /** Application device name → node. */
  readonly app: ReadonlyMap<string, GraphNode>;
  /** Binding keys whose drivers nothing needs (not connected). */
  readonly unused: readonly string[];
}

export const nodeName = (node: GraphNode): string => node.keys[0]!;

export function resolveGraph(
  appName: string,
  needs: NeedsSpec,
  bindings: Readonly<Record<string, unknown>>,
): ResolvedGraph {
  const nodes = new Map<AnyDriver, GraphNode>();
  const entries: Array<[string, AnyDriver]> = [];
  for (const [key, value] of Object.entries(bindings)) {
    if (!isDriver(value)) {
      throw new BindingError(
        "ATOLL_BINDING_INVALID",
        key,
        `binding "${key}" is not a driver (got ${value === null ? "null" : typeof value}); bind a driver factory's result, e.g. ${key}: someDriver()`,
      );
    }
    entries.push([key, value]);
    const node = nodes.get(value);
    if (node === undefined) nodes.set(value, { driver: value, keys: [key], deps: new Map() });
    else node.keys.push(key);
  }

  const app = new Map<string, GraphNode>();
  for (const [name, sig] of Object.entries(needs)) {
    const bound = bindings[name];
    if (bound === undefined) {
      throw new BindingError(
        "ATOLL_BINDING_MISSING",
        name,
        `${appName} needs device "${name}" (${sig.id}) but nothing is bound to it`,
      );
    }
    const node = nodes.get(bound as AnyDriver)!;
    if (node.driver.provides.id !== sig.id) {
      throw new BindingError(
        "ATOLL_BINDING_MISMATCH",
        name,
        `device "${name}" must provide ${sig.id}, but its driver ${node.driver.name} provides ${node.driver.provides.id}`,
      );
    }
    app.set(name, node);
  }

  // Wire the drivers' needs, breadth-first from what the application uses.
  const reachable = new Set<GraphNode>(app.values());
  const queue = [...reachable];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const [needName, sig] of Object.entries(node.driver.needs as NeedsSpec)) {
      const dep = pickProvider(node, needName, sig.id, entries, nodes);
      node.deps.set(needName, dep);
      if (!reachable.has(dep)) {
        reachable.add(dep);
        queue.push(dep);
      }
    }
  }

  const order = topologicalOrder([...reachable]);
  const unused = entries.filter(([, d]) => !reachable.has(nodes.get(d)!)).map(([k]) => k);
  return { appName, order, app, unused };
}

function pickProvider(
  node: GraphNode,
  needName: string,
  id: string,
  entries: ReadonlyArray<[string, AnyDriver]>,
  nodes: ReadonlyMap<AnyDriver, GraphNode>,
): GraphNode {
  const who = `device "${nodeName(node)}" (${node.driver.name})`;
  const candidates = entries.filter(([, d]) => d.provides.id === id && d !== node.driver);
  const sameName = candidates.find(([k]) => k === needName);
  if (sameName !== undefined) return nodes.get(sameName[1])!;
  const distinct = [...new Set(candidates.map(([, d]) => d))];
  if (distinct.length === 1) return nodes.get(distinct[0]!)!;
  if (distinct.length === 0) {
    throw new BindingError(
      "ATOLL_BINDING_MISSING",
      needName,
      `${who} needs "${needName}" (${id}) but no binding provides ${id}; bind one, e.g. ${needName}: ...`,
    );
  }
  const keys = candidates.map(([k]) => `"${k}"`).join(", ");
  throw new BindingError(
    "ATOLL_BINDING_AMBIGUOUS",
    needName,
    `${who} needs "${needName}" (${id}) and several bindings provide it (${keys}); bind the one it should use under the name "${needName}"`,
  );
}

function topologicalOrder(nodes: readonly GraphNode[]): GraphNode[] {
  const state = new Map<GraphNode, "visiting" | "done">();
  const order: GraphNode[] = [];
  const path: GraphNode[] = [];
  const visit = (node: GraphNode) => {
    const s = state.get(node);
    if (s === "done") return;
    if (s === "visiting") {
      const cycle = [...path.slice(path.indexOf(node)), node].map(nodeName);
      throw new BindingError(
        "ATOLL_BINDING_CYCLE",
        nodeName(node),
        `the device graph has a cycle: ${cycle.join(" → ")}`,
      );
    }
    state.set(node, "visiting");
    path.push(node);
    for (const dep of node.deps.values()) visit(dep);
    path.pop();
    state.set(node, "done");
    order.push(node);
  };
  for (const node of nodes) visit(node);
  return order;
}
