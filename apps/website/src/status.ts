// The /status document: what this unikernel is (its device graph, the drivers
// behind its network stack and its files) and how it is doing (uptime from
// the MonotonicClock, the stack's counters, the HTTP server's counters).

import type { DeviceGraph } from "@atoll/core";
import type { HttpServerStats } from "@atoll/http";
import type { Stack } from "@atoll/tcpip";

export interface WebsiteStatus {
  readonly app: string;
  /** Seconds since the application started, on the MonotonicClock. */
  readonly uptimeSeconds: number;
  readonly stack: {
    /** The driver bound to the application's `stack` (`stack.direct`, `stack.socket`, ...). */
    readonly driver: string | null;
    /** The driver bound to the stack's `netif`, when it has one (`netif.tap`, `netif.memory-switch`, ...). */
    readonly netif: string | null;
    readonly address: string | null;
    readonly prefixLength: number | null;
    readonly gateway: string | null;
    /** The DHCP server and lease time, when the address came from DHCP. */
    readonly dhcp: { readonly server: string; readonly leaseSeconds: number } | null;
    /** True when the host's kernel does the networking (the socket stack): it keeps packet counts to itself. */
    readonly countedByHost: boolean;
  };
  readonly assets: { readonly driver: string | null };
  readonly counters: {
    /** IPv4 packets; null where the host's kernel counts them. */
    readonly packets: {
      readonly received: number;
      readonly sent: number;
      readonly dropped: number;
    } | null;
    readonly connections: {
      /** TCP connections established now. */
      readonly current: number;
      /** Connections opened since start, either way. */
      readonly opened: number;
      readonly accepted: number;
      readonly initiated: number;
      readonly resetsSent: number;
    };
    /** TCP segments sent again; null where the host's kernel retransmits. */
    readonly retransmits: number | null;
    readonly segments: { readonly received: number; readonly sent: number } | null;
    readonly http: HttpServerStats | null;
  };
  readonly graph: {
    readonly app: string;
    readonly nodes: DeviceGraph["nodes"];
    readonly edges: DeviceGraph["edges"];
    readonly text: string;
    readonly mermaid: string;
  };
}

/** The driver bound to `need` of `from` (`app` for the application), from the graph's edges. */
export function boundDriver(graph: DeviceGraph, from: string, need: string): string | null {
  const edge = graph.edges.find((e) => e.from === from && e.need === need);
  if (edge === undefined) return null;
  return graph.nodes.find((n) => n.id === edge.to)?.driver ?? null;
}

export interface StatusSources {
  readonly graph: DeviceGraph;
  readonly stack: Stack;
  /** Uptime in ns. */
  uptimeNs(): number;
  http(): HttpServerStats | undefined;
}

/** The graph part of the document: fixed for a running unikernel, so rendered once. */
const graphDocuments = new WeakMap<DeviceGraph, WebsiteStatus["graph"]>();
function graphDocument(graph: DeviceGraph): WebsiteStatus["graph"] {
  let doc = graphDocuments.get(graph);
  if (doc === undefined) {
    doc = {
      app: graph.app,
      nodes: graph.nodes,
      edges: graph.edges,
      text: graph.text(),
      mermaid: graph.mermaid(),
    };
    graphDocuments.set(graph, doc);
  }
  return doc;
}

export function websiteStatus(sources: StatusSources): WebsiteStatus {
  const { graph, stack } = sources;
  const stackEdge = graph.edges.find((e) => e.from === "app" && e.need === "stack");
  const stackDriver = boundDriver(graph, "app", "stack");
  const netif = stackEdge === undefined ? null : boundDriver(graph, stackEdge.to, "netif");
  const countedByHost = stackDriver === "stack.socket";
  const config = stack.ipv4.config();
  const lease = stack.ipv4.lease();
  const s = stack.stats;
  const http = sources.http();
  return {
    app: graph.app,
    uptimeSeconds: Math.round(sources.uptimeNs() / 1e6) / 1e3,
    stack: {
      driver: stackDriver,
      netif,
      address: config.address ?? null,
      prefixLength: config.prefixLength ?? null,
      gateway: config.gateway ?? null,
      dhcp:
        lease === undefined
          ? null
          : { server: lease.server, leaseSeconds: Math.round(lease.leaseTimeNs / 1e9) },
      countedByHost,
    },
    assets: { driver: boundDriver(graph, "app", "assets") },
    counters: {
      packets: countedByHost
        ? null
        : { received: s.ipv4.rxPackets, sent: s.ipv4.txPackets, dropped: s.ipv4.rxDropped },
      connections: {
        current: s.tcp.currentConnections,
        opened: s.tcp.activeOpens + s.tcp.passiveOpens,
        accepted: s.tcp.passiveOpens,
        initiated: s.tcp.activeOpens,
        resetsSent: s.tcp.resetsSent,
      },
      retransmits: countedByHost ? null : s.tcp.retransmittedSegments,
      segments: countedByHost ? null : { received: s.tcp.rxSegments, sent: s.tcp.txSegments },
      http: http === undefined ? null : { ...http },
    },
    graph: graphDocument(graph),
  };
}
