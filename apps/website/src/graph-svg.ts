// Draws a unikernel's device graph (from `describe()`) as an SVG picture:
// the application on top, then its devices in layers by how deep they sit
// in the dependency graph, arrows from each device to the devices it needs.
// Colours come from presentation attributes (not a <style> element), so the
// picture looks the same standalone and inlined into a page whose
// Content-Security-Policy forbids inline styles.

import type { DeviceGraph, DeviceGraphEdge } from "@atoll/core";

const CHAR_WIDTH = 7.3; // 12px monospace, a little generous
const BOX_HEIGHT = 62;
const ROW_GAP = 64;
const COLUMN_GAP = 22;
const PAD_X = 14;
const MARGIN = 16;
const FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace";

/** A colour per family of signatures: its border, its fill and its label's colour. */
interface Palette {
  readonly stroke: string;
  readonly fill: string;
  readonly text: string;
}

const PALETTES: ReadonlyArray<readonly [prefix: string, palette: Palette]> = [
  ["atoll.stack", { stroke: "#38bdf8", fill: "#0c2a3d", text: "#e0f2fe" }],
  ["atoll.netif", { stroke: "#fb923c", fill: "#3a210f", text: "#ffedd5" }],
  ["atoll.kv", { stroke: "#4ade80", fill: "#0f2f1c", text: "#dcfce7" }],
  ["atoll.block", { stroke: "#4ade80", fill: "#0f2f1c", text: "#dcfce7" }],
  ["atoll.clock", { stroke: "#a78bfa", fill: "#221a3d", text: "#ede9fe" }],
  ["atoll.time", { stroke: "#a78bfa", fill: "#221a3d", text: "#ede9fe" }],
  ["atoll.random", { stroke: "#f472b6", fill: "#3a1429", text: "#fce7f3" }],
  ["atoll.console", { stroke: "#94a3b8", fill: "#1e2633", text: "#e2e8f0" }],
];
const OTHER: Palette = { stroke: "#cbd5e1", fill: "#1e2633", text: "#f1f5f9" };
const APP: Palette = { stroke: "#facc15", fill: "#3a300a", text: "#fef9c3" };

function paletteFor(signature: string): Palette {
  for (const [prefix, palette] of PALETTES) if (signature.startsWith(prefix)) return palette;
  return OTHER;
}

const escapeXml = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");

interface Box {
  readonly id: string;
  readonly lines: readonly [string, string, string];
  readonly palette: Palette;
  readonly signature: string;
  readonly driver: string;
  readonly depth: number;
  width: number;
  x: number;
  y: number;
  order: number;
}

/** The picture's layout, exposed for tests: where each box is. */
export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly boxes: ReadonlyArray<{
    readonly id: string;
    readonly x: number;
    readonly y: number;
    readonly width: number;
    readonly height: number;
    readonly depth: number;
  }>;
}

const APP_ID = "app";

function layout(graph: Pick<DeviceGraph, "app" | "nodes" | "edges">): {
  boxes: Box[];
  width: number;
  height: number;
} {
  // Depth: the longest path from the application. `nodes` lists dependencies
  // before their dependents, so walking it backwards sees every dependent first.
  const depth = new Map<string, number>([[APP_ID, 0]]);
  const parents = new Map<string, string[]>();
  for (const e of graph.edges) {
    const list = parents.get(e.to) ?? [];
    list.push(e.from);
    parents.set(e.to, list);
  }
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    let d = 1;
    for (const p of parents.get(node.id) ?? []) d = Math.max(d, (depth.get(p) ?? 0) + 1);
    depth.set(node.id, d);
  }
  const boxes: Box[] = [
    {
      id: APP_ID,
      lines: [graph.app, "application", "createUnikernel"],
      palette: APP,
      signature: "",
      driver: "",
      depth: 0,
      width: 0,
      x: 0,
      y: 0,
      order: 0,
    },
    ...graph.nodes.map((n, i) => ({
      id: n.id,
      lines: [n.id, n.driver, n.signature] as [string, string, string],
      palette: paletteFor(n.signature),
      signature: n.signature,
      driver: n.driver,
      depth: depth.get(n.id) ?? 1,
      width: 0,
      x: 0,
      y: 0,
      order: i,
    })),
  ];
  for (const b of boxes) {
    const longest = Math.max(...b.lines.map((l) => l.length));
    b.width = Math.ceil(longest * CHAR_WIDTH + 2 * PAD_X);
  }
  const rows: Box[][] = [];
  for (const b of boxes) (rows[b.depth] ??= []).push(b);
  const byId = new Map(boxes.map((b) => [b.id, b]));

  // Order each row by the mean position of its parents (a barycentre pass), so
  // arrows cross less; ties keep the graph's own order.
  const place = (row: Box[]) => {
    const total = row.reduce((sum, b) => sum + b.width, 0) + COLUMN_GAP * (row.length - 1);
    let x = -total / 2;
    for (const b of row) {
      b.x = x;
      x += b.width + COLUMN_GAP;
    }
  };
  for (const row of rows) if (row) place(row);
  for (let pass = 0; pass < 2; pass++) {
    for (let d = 1; d < rows.length; d++) {
      const row = rows[d];
      if (!row) continue;
      const centre = (b: Box) => {
        const ps = (parents.get(b.id) ?? []).map((p) => byId.get(p)).filter((p) => p !== undefined);
        if (ps.length === 0) return b.x + b.width / 2;
        return ps.reduce((sum, p) => sum + p.x + p.width / 2, 0) / ps.length;
      };
      const keyed = row.map((b) => ({ b, c: centre(b) }));
      keyed.sort((a, z) => a.c - z.c || a.b.order - z.b.order);
      rows[d] = keyed.map((k) => k.b);
      place(rows[d]!);
    }
  }
  const minX = Math.min(...boxes.map((b) => b.x));
  const maxX = Math.max(...boxes.map((b) => b.x + b.width));
  for (const b of boxes) {
    b.x = Math.round(b.x - minX + MARGIN);
    b.y = MARGIN + b.depth * (BOX_HEIGHT + ROW_GAP);
  }
  const width = Math.ceil(maxX - minX + 2 * MARGIN);
  const height = MARGIN * 2 + rows.length * BOX_HEIGHT + (rows.length - 1) * ROW_GAP;
  return { boxes, width, height };
}

/** Where each box goes, for tests and for tools that draw the graph their own way. */
export function layoutDeviceGraph(
  graph: Pick<DeviceGraph, "app" | "nodes" | "edges">,
): GraphLayout {
  const { boxes, width, height } = layout(graph);
  return {
    width,
    height,
    boxes: boxes.map((b) => ({
      id: b.id,
      x: b.x,
      y: b.y,
      width: b.width,
      height: BOX_HEIGHT,
      depth: b.depth,
    })),
  };
}

/**
 * The device graph as a standalone SVG document. Every device is a `<g
 * class="device" data-device="…" data-driver="…" data-signature="…">`, every
 * need an `<g class="need" data-from="…" data-to="…" data-need="…">`.
 */
export function renderDeviceGraphSvg(graph: Pick<DeviceGraph, "app" | "nodes" | "edges">): string {
  const { boxes, width, height } = layout(graph);
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="device-graph-title" class="device-graph" font-family="${escapeXml(FONT)}" font-size="12">`,
    `<title id="device-graph-title">Device graph of ${escapeXml(graph.app)}: ${graph.nodes.length} devices</title>`,
    `<defs><marker id="device-graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker></defs>`,
  );

  // Arrows leave a box's bottom edge and arrive at its child's top edge, spread
  // along both: a box's outgoing arrows in the order of their targets, its
  // incoming ones in the order of their sources, so that they do not cross.
  const centreX = (id: string) => {
    const b = byId.get(id);
    return b === undefined ? 0 : b.x + b.width / 2;
  };
  const slots = (key: (e: DeviceGraphEdge) => string, order: (e: DeviceGraphEdge) => number) => {
    const groups = new Map<string, DeviceGraphEdge[]>();
    for (const e of graph.edges) {
      const list = groups.get(key(e)) ?? [];
      list.push(e);
      groups.set(key(e), list);
    }
    const slot = new Map<DeviceGraphEdge, { index: number; count: number }>();
    for (const list of groups.values()) {
      list.sort((a, z) => order(a) - order(z));
      for (const [index, e] of list.entries()) slot.set(e, { index, count: list.length });
    }
    return slot;
  };
  const outSlot = slots(
    (e) => e.from,
    (e) => centreX(e.to),
  );
  const inSlot = slots(
    (e) => e.to,
    (e) => centreX(e.from),
  );
  out.push(`<g class="needs" fill="none">`);
  for (const e of graph.edges) {
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    if (!from || !to) continue;
    const o = outSlot.get(e)!;
    const i = inSlot.get(e)!;
    const x1 = from.x + (from.width * (o.index + 1)) / (o.count + 1);
    const x2 = to.x + (to.width * (i.index + 1)) / (i.count + 1);
    const y1 = from.y + BOX_HEIGHT;
    const y2 = to.y - 2;
    const bend = Math.max(28, (y2 - y1) / 2);
    const path = `M${x1.toFixed(1)},${y1} C${x1.toFixed(1)},${y1 + bend} ${x2.toFixed(1)},${(y2 - bend).toFixed(1)} ${x2.toFixed(1)},${y2}`;
    const label = e.need === e.to ? "" : e.need;
    out.push(
      `<g class="need" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" data-need="${escapeXml(e.need)}">`,
      `<path d="${path}" stroke="#64748b" stroke-width="1.4" marker-end="url(#device-graph-arrow)"/>`,
    );
    if (label) {
      const lx = (x1 + x2) / 2;
      const ly = (y1 + y2) / 2 + 4;
      const w = label.length * CHAR_WIDTH * 0.85 + 8;
      out.push(
        `<rect x="${(lx - w / 2).toFixed(1)}" y="${(ly - 11).toFixed(1)}" width="${w.toFixed(1)}" height="15" rx="4" fill="#0b1220" stroke="#334155"/>`,
        `<text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="middle" font-size="10.5" fill="#94a3b8">${escapeXml(label)}</text>`,
      );
    }
    out.push("</g>");
  }
  out.push("</g>");

  out.push(`<g class="devices">`);
  for (const b of boxes) {
    const { stroke, fill, text } = b.palette;
    const cx = b.x + b.width / 2;
    const isApp = b.id === APP_ID;
    out.push(
      isApp
        ? `<g class="device application" data-device="${escapeXml(graph.app)}">`
        : `<g class="device" data-device="${escapeXml(b.id)}" data-driver="${escapeXml(b.driver)}" data-signature="${escapeXml(b.signature)}">`,
      `<title>${escapeXml(isApp ? `${graph.app}: the application` : `${b.id}: ${b.driver} provides ${b.signature}`)}</title>`,
      `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${BOX_HEIGHT}" rx="${isApp ? 31 : 10}" fill="${fill}" stroke="${stroke}" stroke-width="1.6"/>`,
      `<text x="${cx}" y="${b.y + 22}" text-anchor="middle" font-size="14" font-weight="700" fill="${text}">${escapeXml(b.lines[0])}</text>`,
      `<text x="${cx}" y="${b.y + 39}" text-anchor="middle" fill="${stroke}">${escapeXml(b.lines[1])}</text>`,
      `<text x="${cx}" y="${b.y + 54}" text-anchor="middle" font-size="10.5" fill="#94a3b8">${escapeXml(b.lines[2])}</text>`,
      "</g>",
    );
  }
  out.push("</g></svg>");
  return `${out.join("\n")}\n`;
}
