// The device graph picture: every device drawn once, in layers by depth,
// boxes that do not overlap, text escaped.
import { VirtualTime } from "@atoll/clock";
import { memoryConsole } from "@atoll/console";
import { createUnikernel, type DeviceGraph } from "@atoll/core";
import { seededRandom } from "@atoll/entropy";
import { staticKv } from "@atoll/kv";
import { MemorySwitch } from "@atoll/netif";
import { direct } from "@atoll/tcpip";
import { socketStack } from "@atoll/tcpip/socket";
import { describe, expect, it } from "vitest";
import { layoutDeviceGraph, renderDeviceGraphSvg } from "../src/graph-svg.js";
import { Website } from "../src/unikernel.js";
import { imageOf } from "./support/site.js";

function directGraph(): DeviceGraph {
  const world = new VirtualTime();
  return Website({
    console: memoryConsole(),
    stack: direct(),
    netif: new MemorySwitch().port(),
    clock: world.monotonic(),
    wallClock: world.wall(),
    time: world.time(),
    random: seededRandom(1),
    assets: staticKv(imageOf({ "/index.html": "x" })),
  }).describe();
}

function overlaps(
  a: { x: number; y: number; width: number; height: number },
  b: typeof a,
): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe("renderDeviceGraphSvg", () => {
  it("draws the application and every device once, with its driver and signature", () => {
    const graph = directGraph();
    const svg = renderDeviceGraphSvg(graph);
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<g class="device application"/g)).toHaveLength(1);
    for (const node of graph.nodes) {
      expect(svg.match(new RegExp(`data-device="${node.id}"`, "g")), node.id).toHaveLength(1);
      expect(svg).toContain(`data-driver="${node.driver}" data-signature="${node.signature}"`);
    }
    expect(svg.match(/<g class="need"/g)).toHaveLength(graph.edges.length);
    // Balanced groups: a cheap well-formedness check.
    expect(svg.match(/<g[ >]/g)!.length).toBe(svg.match(/<\/g>/g)!.length);
  });

  it("puts each device below everything that needs it, and no two boxes on top of each other", () => {
    const graph = directGraph();
    const layout = layoutDeviceGraph(graph);
    const at = new Map(layout.boxes.map((b) => [b.id, b]));
    for (const e of graph.edges)
      expect(at.get(e.from)!.depth, `${e.from}→${e.to}`).toBeLessThan(at.get(e.to)!.depth);
    // netif and random are needed only by the stack; clock and time by the stack as well.
    expect(at.get("netif")!.depth).toBe(2);
    expect(at.get("time")!.depth).toBe(2);
    expect(at.get("assets")!.depth).toBe(1);
    for (const a of layout.boxes)
      for (const b of layout.boxes)
        if (a !== b) expect(overlaps(a, b), `${a.id}/${b.id}`).toBe(false);
    for (const b of layout.boxes) {
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(layout.width);
      expect(b.y + b.height).toBeLessThanOrEqual(layout.height);
    }
  });

  it("is smaller on the socket stack: no interface, no random", () => {
    const graph = Website({
      console: memoryConsole(),
      stack: socketStack(),
      clock: new VirtualTime().monotonic(),
      wallClock: new VirtualTime().wall(),
      time: new VirtualTime().time(),
      assets: staticKv(imageOf({ "/index.html": "x" })),
    }).describe();
    const svg = renderDeviceGraphSvg(graph);
    expect(svg).not.toContain('data-device="netif"');
    expect(svg).toContain('data-driver="stack.socket"');
    expect(new Set(layoutDeviceGraph(graph).boxes.map((b) => b.depth))).toEqual(new Set([0, 1]));
  });

  it("escapes names", async () => {
    const { Console } = await import("@atoll/console");
    const App = createUnikernel({ name: `<b>"x"&y</b>`, needs: { "odd<&>": Console }, start() {} });
    const svg = renderDeviceGraphSvg(App({ "odd<&>": memoryConsole() }).describe());
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&lt;b&gt;&quot;x&quot;&amp;y&lt;/b&gt;");
    expect(svg).toContain('data-device="odd&lt;&amp;&gt;"');
  });
});
