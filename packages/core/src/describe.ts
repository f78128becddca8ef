// Renders the resolved device graph as text (a tree), Mermaid and Graphviz DOT.

import { type GraphNode, nodeName, type ResolvedGraph } from "./graph.js";

// `atoll build` (@atoll/cli) defines __ATOLL_SEALED__ when it bundles a sealed
// image, so that code only a host needs is left out of the image.
declare const __ATOLL_SEALED__: true | undefined;

export interface DeviceGraphNode {
  /** The device name: the first binding key of the driver. */
  readonly id: string;
  readonly keys: readonly string[];
  readonly driver: string;
  readonly signature: string;
}

export interface DeviceGraphEdge {
  /** `app` for the application, else a device id. */
  readonly from: string;
  readonly to: string;
  /** The need's name on the `from` side. */
  readonly need: string;
}

export interface DeviceGraph {
  readonly app: string;
  readonly nodes: readonly DeviceGraphNode[];
  readonly edges: readonly DeviceGraphEdge[];
  readonly unused: readonly string[];
  text(): string;
  mermaid(): string;
  dot(): string;
}

export function describeGraph(graph: ResolvedGraph): DeviceGraph {
  const nodes: DeviceGraphNode[] = graph.order.map((n) => ({
    id: nodeName(n),
    keys: [...n.keys],
    driver: n.driver.name,
    signature: n.driver.provides.id,
  }));
  const edges: DeviceGraphEdge[] = [];
  for (const [need, node] of graph.app) edges.push({ from: "app", to: nodeName(node), need });
  for (const node of graph.order) {
    for (const [need, dep] of node.deps)
      edges.push({ from: nodeName(node), to: nodeName(dep), need });
  }
  // A sealed image keeps the graph's data; its renderers stay on the host.
  const none = () => "(graph renderers are not included in sealed images)\n";
  return {
    app: graph.appName,
    nodes,
    edges,
    unused: graph.unused,
    text: typeof __ATOLL_SEALED__ !== "undefined" ? none : () => renderTree(graph),
    mermaid:
      typeof __ATOLL_SEALED__ !== "undefined"
        ? none
        : () => renderMermaid(graph.appName, nodes, edges),
    dot:
      typeof __ATOLL_SEALED__ !== "undefined" ? none : () => renderDot(graph.appName, nodes, edges),
  };
}

function renderTree(graph: ResolvedGraph): string {
  const lines = [graph.appName];
  const shown = new Set<GraphNode>();
  const walk = (children: ReadonlyArray<[string, GraphNode]>, prefix: string) => {
    children.forEach(([need, node], i) => {
      const last = i === children.length - 1;
      const label = need === nodeName(node) ? need : `${need} → ${nodeName(node)}`;
      const seen = shown.has(node);
      lines.push(
        `${prefix}${last ? "└─ " : "├─ "}${label}: ${node.driver.name} (${node.driver.provides.id})${seen && node.deps.size > 0 ? " …" : ""}`,
      );
      if (seen) return;
      shown.add(node);
      walk([...node.deps], prefix + (last ? "   " : "│  "));
    });
  };
  walk([...graph.app], "");
  if (graph.unused.length > 0) lines.push(`(unused bindings: ${graph.unused.join(", ")})`);
  return `${lines.join("\n")}\n`;
}

const mermaidId = (id: string) => `d_${id.replace(/[^A-Za-z0-9_]/g, "_")}`;
const quote = (s: string) => s.replaceAll('"', "#quot;");

function renderMermaid(
  app: string,
  nodes: readonly DeviceGraphNode[],
  edges: readonly DeviceGraphEdge[],
): string {
  const lines = ["graph TD", `  app(["${quote(app)}"])`];
  for (const n of nodes) {
    lines.push(
      `  ${mermaidId(n.id)}["${quote(n.id)}<br/><small>${quote(n.driver)}<br/>${quote(n.signature)}</small>"]`,
    );
  }
  for (const e of edges) {
    const from = e.from === "app" ? "app" : mermaidId(e.from);
    lines.push(`  ${from} -->|${quote(e.need)}| ${mermaidId(e.to)}`);
  }
  return `${lines.join("\n")}\n`;
}

const dotString = (s: string) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

function renderDot(
  app: string,
  nodes: readonly DeviceGraphNode[],
  edges: readonly DeviceGraphEdge[],
): string {
  const lines = [
    `digraph ${dotString(app)} {`,
    "  rankdir=TB;",
    "  node [shape=box, fontname=monospace];",
  ];
  lines.push(`  app [label=${dotString(app)}, shape=ellipse];`);
  for (const n of nodes) {
    lines.push(
      `  ${dotString(`d:${n.id}`)} [label=${dotString(`${n.id}\n${n.driver}\n${n.signature}`)}];`,
    );
  }
  for (const e of edges) {
    const from = e.from === "app" ? "app" : dotString(`d:${e.from}`);
    lines.push(`  ${from} -> ${dotString(`d:${e.to}`)} [label=${dotString(e.need)}];`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
