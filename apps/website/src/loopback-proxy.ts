// A host-side door into a network that only Atoll can reach: listens on a
// loopback port with the host's sockets and, for each connection, opens one
// through a Stack (typically a client direct stack on a MemorySwitch) to a
// target address and port, then copies bytes both ways. A browser on the host
// can then load a page served over Atoll's own TCP/IP, without TAP or root.
// Node only.

import net from "node:net";
import type { Flow, Stack } from "@atoll/tcpip";
import { SocketFlow } from "@atoll/tcpip/socket";

export interface LoopbackProxyOptions {
  /** The stack that reaches the target (its TCP connects there). */
  readonly stack: Pick<Stack, "tcp">;
  readonly target: { readonly address: string; readonly port: number };
  /** Host address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Host port to listen on (default 0: one the kernel picks). */
  readonly port?: number;
}

export interface LoopbackProxyStats {
  /** Connections accepted on the host side. */
  accepted: number;
  /** Connections the stack could not open to the target. */
  failed: number;
  /** Connections being forwarded now. */
  active: number;
  /** Bytes copied from the host side into the stack, and back. */
  bytesIn: number;
  bytesOut: number;
}

export interface LoopbackProxy {
  readonly host: string;
  readonly port: number;
  /** `http://host:port/` */
  readonly url: string;
  readonly stats: Readonly<LoopbackProxyStats>;
  /** Stops listening and aborts every forwarded connection. */
  close(): Promise<void>;
}

/** Copies `from` into `to` until `from` ends, then half-closes `to`. Returns the bytes copied. */
async function pump(from: Flow, to: Flow, count: (n: number) => void): Promise<void> {
  for (;;) {
    const chunk = await from.read();
    if (chunk === null) break;
    count(chunk.length);
    await to.write(chunk);
  }
  await to.shutdown();
}

/** Forwards two flows to each other until both directions end; a failure on either aborts both. */
export async function splice(
  a: Flow,
  b: Flow,
  counters: { aToB(n: number): void; bToA(n: number): void } = { aToB() {}, bToA() {} },
): Promise<void> {
  try {
    await Promise.all([pump(a, b, counters.aToB), pump(b, a, counters.bToA)]);
    await Promise.all([a.close(), b.close()]);
  } catch {
    a.abort();
    b.abort();
  }
}

export function startLoopbackProxy(options: LoopbackProxyOptions): Promise<LoopbackProxy> {
  const host = options.host ?? "127.0.0.1";
  const { stack, target } = options;
  const stats: LoopbackProxyStats = { accepted: 0, failed: 0, active: 0, bytesIn: 0, bytesOut: 0 };
  const open = new Set<Flow>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    stats.accepted++;
    socket.setNoDelay(true);
    const outer = new SocketFlow(socket);
    open.add(outer);
    stack.tcp.connect(target.address, target.port, { noDelay: true }).then(
      async (inner) => {
        open.add(inner);
        stats.active++;
        await splice(outer, inner, {
          aToB: (n) => {
            stats.bytesIn += n;
          },
          bToA: (n) => {
            stats.bytesOut += n;
          },
        });
        stats.active--;
        open.delete(inner);
        open.delete(outer);
      },
      () => {
        stats.failed++;
        outer.abort();
        open.delete(outer);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      const { port } = server.address() as net.AddressInfo;
      resolve({
        host,
        port,
        url: `http://${host}:${port}/`,
        stats,
        close: () =>
          new Promise<void>((done) => {
            for (const flow of open) flow.abort();
            open.clear();
            server.close(() => done());
          }),
      });
    });
  });
}
