// The socket stack: the Stack signature over the host's own TCP/IP through
// node:net and node:dgram, like MirageOS's socket stack. Listening sockets
// and UDP sockets are bound to one address (default 127.0.0.1, so that a
// unikernel is not reachable from the network unless asked); outgoing
// connections leave from whatever address the host's routing picks.

import * as dgram from "node:dgram";
import * as net from "node:net";
import { AbortedError, DisconnectedError, type Logger, parseIpv4, silentLogger } from "@atoll/core";
import { AddressInUseError, ConnectionTimeoutError } from "../errors.js";
import type {
  ConnectOptions,
  Flow,
  Icmp,
  Ipv4,
  ListenOptions,
  Stack,
  StackStats,
  Tcp,
  Udp,
  UdpDatagram,
  UdpSendOptions,
} from "../signature.js";
import { mapSocketError, PingUnsupportedError } from "./errors.js";
import { SocketFlow } from "./flow.js";

export interface SocketStackOptions {
  /** Address that listening TCP and UDP sockets bind to (default "127.0.0.1"; "0.0.0.0" for every interface). */
  readonly bind?: string;
  readonly log?: Logger;
}

/** What the host API lets the socket stack count; the kernel keeps the rest (retransmissions, drops). */
export interface SocketStackStats extends StackStats {
  readonly tcp: StackStats["tcp"] & { listenErrors: number };
  readonly udp: StackStats["udp"] & { bindErrors: number };
}

export interface SocketStack extends Stack {
  readonly stats: SocketStackStats;
  /** Closes every listener, connection and UDP socket. */
  close(): Promise<void>;
}

export function createSocketStack(options: SocketStackOptions = {}): SocketStack {
  const bind = options.bind ?? "127.0.0.1";
  if (parseIpv4(bind) === undefined)
    throw new TypeError(`socket stack: bind must be an IPv4 address, got ${JSON.stringify(bind)}`);
  const log = options.log ?? silentLogger;
  const stats = {
    ipv4: { rxPackets: 0, txPackets: 0, rxDropped: 0 },
    tcp: {
      activeOpens: 0,
      passiveOpens: 0,
      currentConnections: 0,
      retransmittedSegments: 0,
      resetsSent: 0,
      rxSegments: 0,
      txSegments: 0,
      rxDropped: 0,
      listenErrors: 0,
    },
    udp: { rxDatagrams: 0, txDatagrams: 0, rxDropped: 0, bindErrors: 0 },
  };
  const servers = new Map<number, net.Server>();
  const sockets = new Set<net.Socket>();
  const udpListeners = new Map<number, dgram.Socket>();
  /** Sockets bound only for sending, by source port (0: the shared ephemeral one). */
  const udpSenders = new Map<number, dgram.Socket>();
  let closed = false;

  const track = (socket: net.Socket): SocketFlow => {
    sockets.add(socket);
    stats.tcp.currentConnections++;
    return new SocketFlow(socket, () => {
      sockets.delete(socket);
      stats.tcp.currentConnections--;
    });
  };

  const tcp: Tcp = {
    listen(port: number, onFlow: (flow: Flow) => void, listenOptions: ListenOptions = {}): void {
      checkPort(port);
      if (closed) throw new DisconnectedError("stack");
      if (servers.has(port)) throw new AddressInUseError(`TCP port ${port}`);
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
      server.on("connection", (socket) => {
        if (listenOptions.noDelay !== undefined) socket.setNoDelay(listenOptions.noDelay);
        stats.tcp.passiveOpens++;
        const flow = track(socket);
        try {
          onFlow(flow);
        } catch (error) {
          log.warn("a TCP listener threw", { port, error });
        }
      });
      server.on("error", (error) => {
        stats.tcp.listenErrors++;
        servers.delete(port);
        log.error("cannot listen", { port, error: mapSocketError(error, bind, port) });
      });
      server.listen({ port, host: bind, backlog: listenOptions.backlog ?? 128 });
      servers.set(port, server);
    },

    unlisten(port: number): void {
      const server = servers.get(port);
      if (server === undefined) return;
      servers.delete(port);
      server.close();
    },

    connect(address: string, port: number, connectOptions: ConnectOptions = {}): Promise<Flow> {
      if (parseIpv4(address) === undefined)
        return Promise.reject(
          new TypeError(`connect: not an IPv4 address: ${JSON.stringify(address)}`),
        );
      try {
        checkPort(port);
      } catch (error) {
        return Promise.reject(error);
      }
      if (closed) return Promise.reject(new DisconnectedError("stack"));
      const signal = connectOptions.signal;
      if (signal?.aborted)
        return Promise.reject(new AbortedError("connect aborted", { cause: signal.reason }));
      return new Promise<Flow>((resolve, reject) => {
        const socket = net.connect({
          host: address,
          port,
          allowHalfOpen: true,
          ...(connectOptions.localPort === undefined
            ? {}
            : { localPort: connectOptions.localPort }),
          ...(connectOptions.noDelay === undefined ? {} : { noDelay: connectOptions.noDelay }),
        });
        const timeoutMs = (connectOptions.timeoutNs ?? 30e9) / 1e6;
        const timer = setTimeout(
          () => fail(new ConnectionTimeoutError(`connect to ${address}:${port} timed out`)),
          timeoutMs,
        );
        const onAbort = () => fail(new AbortedError("connect aborted", { cause: signal?.reason }));
        signal?.addEventListener("abort", onAbort, { once: true });
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          socket.off("error", onError);
        };
        const fail = (error: unknown) => {
          done();
          socket.destroy();
          reject(error);
        };
        const onError = (error: Error) => fail(mapSocketError(error, address, port));
        socket.once("error", onError);
        socket.once("connect", () => {
          done();
          stats.tcp.activeOpens++;
          resolve(track(socket));
        });
      });
    },
  };

  const deliver = (port: number) => (message: Buffer, remote: dgram.RemoteInfo) => {
    const listener = udpCallbacks.get(port);
    if (listener === undefined) {
      stats.udp.rxDropped++;
      return;
    }
    stats.udp.rxDatagrams++;
    const datagram: UdpDatagram = {
      srcAddress: remote.address,
      srcPort: remote.port,
      dstAddress: bind,
      dstPort: port,
      data: message,
    };
    try {
      listener(datagram);
    } catch (error) {
      log.warn("a UDP listener threw", { port, error });
    }
  };
  const udpCallbacks = new Map<number, (datagram: UdpDatagram) => void>();

  /** Bound UDP sockets, with a promise of the bind's outcome (sends wait for it). */
  const bound = new WeakMap<dgram.Socket, Promise<void>>();
  const ttls = new WeakMap<dgram.Socket, number>();
  const openUdp = (port: number): dgram.Socket => {
    const socket = dgram.createSocket({ type: "udp4" });
    const ready = new Promise<void>((resolve, reject) => {
      socket.once("listening", () => resolve());
      socket.once("error", reject);
    });
    ready.then(
      () => socket.on("error", (error) => log.warn("UDP socket error", { port, error })),
      (error: unknown) => {
        stats.udp.bindErrors++;
        log.error("cannot bind UDP port", { port, error: mapSocketError(error, bind, port) });
      },
    );
    bound.set(socket, ready);
    socket.bind({ port, address: bind, exclusive: true });
    return socket;
  };

  const senderFor = (srcPort: number | undefined): dgram.Socket => {
    if (srcPort !== undefined) {
      const listening = udpListeners.get(srcPort);
      if (listening !== undefined) return listening;
    } else {
      for (const socket of udpListeners.values()) return socket;
    }
    const key = srcPort ?? 0;
    let socket = udpSenders.get(key);
    if (socket === undefined) {
      socket = openUdp(key);
      // Replies to a send-only socket have no listener: count and drop them.
      socket.on("message", () => stats.udp.rxDropped++);
      udpSenders.set(key, socket);
    }
    return socket;
  };

  const udp: Udp = {
    listen(port: number, listener: (datagram: UdpDatagram) => void): void {
      checkPort(port);
      if (closed) throw new DisconnectedError("stack");
      if (udpListeners.has(port)) throw new AddressInUseError(`UDP port ${port}`);
      // A send-only socket on this port becomes the listener.
      const existing = udpSenders.get(port);
      udpSenders.delete(port);
      const socket = existing ?? openUdp(port);
      socket.removeAllListeners("message");
      socket.on("message", deliver(port));
      udpListeners.set(port, socket);
      udpCallbacks.set(port, listener);
    },

    unlisten(port: number): void {
      const socket = udpListeners.get(port);
      if (socket === undefined) return;
      udpListeners.delete(port);
      udpCallbacks.delete(port);
      socket.close();
    },

    send(
      address: string,
      port: number,
      data: Uint8Array,
      sendOptions: UdpSendOptions = {},
    ): Promise<void> {
      if (parseIpv4(address) === undefined)
        return Promise.reject(
          new TypeError(`udp.send: not an IPv4 address: ${JSON.stringify(address)}`),
        );
      try {
        checkPort(port);
        if (sendOptions.srcPort !== undefined) checkPort(sendOptions.srcPort);
      } catch (error) {
        return Promise.reject(error);
      }
      if (closed) return Promise.reject(new DisconnectedError("stack"));
      const socket = senderFor(sendOptions.srcPort);
      const send = () =>
        new Promise<void>((resolve, reject) => {
          const ttl = sendOptions.ttl ?? DEFAULT_TTL;
          if ((ttls.get(socket) ?? DEFAULT_TTL) !== ttl) {
            socket.setTTL(ttl);
            ttls.set(socket, ttl);
          }
          socket.send(data, port, address, (error) => {
            if (error) reject(mapSocketError(error, address, port));
            else {
              stats.udp.txDatagrams++;
              resolve();
            }
          });
        });
      return (bound.get(socket) ?? Promise.resolve())
        .then(send)
        .catch((error: unknown) => Promise.reject(mapSocketError(error, address, port)));
    },
  };

  const icmp: Icmp = {
    ping: () => Promise.reject(new PingUnsupportedError()),
  };

  const ipv4: Ipv4 = {
    config: () => ({ address: bind, prefixLength: undefined, gateway: undefined }),
    lease: () => undefined,
    // Host sockets: the address is the host's business, and never changes here.
    onChange: () => () => {},
  };

  return {
    ipv4,
    icmp,
    udp,
    tcp,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      const waits: Array<Promise<unknown>> = [];
      for (const server of servers.values())
        waits.push(new Promise((resolve) => server.close(() => resolve(undefined))));
      servers.clear();
      for (const socket of sockets) socket.destroy();
      for (const socket of [...udpListeners.values(), ...udpSenders.values()])
        waits.push(new Promise((resolve) => socket.close(() => resolve(undefined))));
      udpListeners.clear();
      udpSenders.clear();
      udpCallbacks.clear();
      await Promise.all(waits);
    },
  };
}

const DEFAULT_TTL = 64;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`not a port number: ${port}`);
}
