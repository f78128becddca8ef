// `--net:SLOT=switch:NAME`: a port on the host's named switch. Every tender of
// one user on one host that names the same switch shares one Ethernet
// segment, whether its images run in this process or in another `atoll run`:
//
// - in a process, the images of one name share a learning MemorySwitch
//   (@atoll/netif), as they always did;
// - across processes, the first tender to join NAME *serves* it: it listens on
//   a Unix socket, NAME.sock, in a directory only its user can enter, and
//   gives every tender that connects a port on its MemorySwitch. The others
//   join as *relays*: their own MemorySwitch gets an uplink port whose frames
//   cross the socket. The segment is a star of learning bridges, so it has no
//   loop and every frame is delivered once.
// - when the serving tender leaves, its relays see the socket close and elect
//   a new one among themselves (whoever binds the socket first); frames in
//   flight meanwhile are lost, as on any Ethernet.
//
// On the socket: an 8-byte greeting ("ATSWTCH" and the protocol version 1),
// then frames, each a 32-bit little-endian length and the frame's bytes. A
// peer that sends anything else is disconnected. A relay whose socket cannot
// take more (4 MiB queued) drops frames and counts them, like a full NIC queue.

import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { MemoryPort, MemorySwitch, Netif } from "@atoll/netif";

/** What a switch name may be. */
export const SWITCH_NAME = /^[\w.-]{1,64}$/;

const GREETING = Uint8Array.from([0x41, 0x54, 0x53, 0x57, 0x54, 0x43, 0x48, 1]); // "ATSWTCH" 1
const MAX_FRAME = 65535 + 14;
const MAX_QUEUED = 4 << 20;
const SWITCH_MTU = 1500;

/** A port on a named switch, and the way to leave it. */
export interface SwitchPort {
  readonly netif: Netif;
  close(): void;
}

/** The directory holding the switches' sockets: private to this user. */
export function switchDirectory(): string {
  const configured = process.env.ATOLL_SWITCH_DIR;
  const uid = process.getuid?.() ?? 0;
  const dir =
    configured ??
    (process.env.XDG_RUNTIME_DIR !== undefined
      ? path.join(process.env.XDG_RUNTIME_DIR, "atoll")
      : path.join(os.tmpdir(), `atoll-${uid}`));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  // Another user could have made the directory first, to listen in: refuse to use it.
  if (!stat.isDirectory() || (process.getuid !== undefined && stat.uid !== uid))
    throw new Error(`${dir} is not a directory of this user: set ATOLL_SWITCH_DIR`);
  if ((stat.mode & 0o077) !== 0 && configured === undefined)
    throw new Error(`${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)})`);
  return dir;
}

const switches = new Map<string, NamedSwitch>();

/** A new port on the switch `name`, joining (or serving) the host's segment of that name. */
export async function joinSwitch(name: string): Promise<SwitchPort> {
  if (!SWITCH_NAME.test(name))
    throw new Error(`"${name}" is not a switch name: letters, digits, ".", "-" and "_", 1 to 64`);
  let entry = switches.get(name);
  if (entry === undefined) {
    // Loaded only when a slot asks for a switch: `atoll run` starts faster without it.
    const { MemorySwitch } = await import("@atoll/netif");
    entry = switches.get(name);
    if (entry === undefined) {
      entry = new NamedSwitch(name, path.join(switchDirectory(), `${name}.sock`), MemorySwitch);
      switches.set(name, entry);
    }
  }
  const owner = entry;
  // Port MACs are random: ports of other processes share the segment, and a
  // switch's deterministic MACs (02:a7:<switch>:<port>) would repeat there.
  const port = owner.bridge.attach({ mac: localMac() });
  owner.ports++;
  try {
    await owner.connected();
  } catch (error) {
    port.disconnect();
    if (--owner.ports === 0) owner.close();
    throw error;
  }
  return {
    netif: port,
    close() {
      port.disconnect();
      if (--owner.ports === 0) owner.close();
    },
  };
}

function localMac(): Uint8Array {
  const mac = randomBytes(6);
  mac[0] = (mac[0]! & 0xfc) | 0x02; // unicast, locally administered
  return mac;
}

/** Frames one way over a socket: the length-prefixed stream, parsed without copying twice. */
class FrameStream {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #greeted: boolean;
  #corked = false;
  dropped = 0;

  constructor(
    readonly socket: net.Socket,
    onFrame: (frame: Uint8Array) => void,
    onBroken: () => void,
    greeted = false,
  ) {
    this.#greeted = greeted;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (!this.#parse(onFrame)) {
        socket.destroy();
        onBroken();
      }
    });
  }

  #take(n: number): Buffer {
    const first = this.#pending[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#pending.shift();
      else this.#pending[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#pending, this.#pendingBytes);
      out = all.subarray(0, n);
      this.#pending = all.length > n ? [all.subarray(n)] : [];
    }
    this.#pendingBytes -= n;
    return out;
  }

  #peekLength(): number {
    const first = this.#pending[0]!;
    if (first.length >= 4) return first.readUInt32LE(0);
    return Buffer.concat(this.#pending, this.#pendingBytes).readUInt32LE(0);
  }

  /** False when the peer broke the protocol. */
  #parse(onFrame: (frame: Uint8Array) => void): boolean {
    if (!this.#greeted) {
      if (this.#pendingBytes < GREETING.length) return true;
      const hello = this.#take(GREETING.length);
      if (!hello.equals(GREETING)) return false;
      this.#greeted = true;
    }
    while (this.#pendingBytes >= 4) {
      const length = this.#peekLength();
      if (length < 14 || length > MAX_FRAME) return false;
      if (this.#pendingBytes < 4 + length) break;
      this.#take(4);
      onFrame(this.#take(length));
    }
    return true;
  }

  greet(): void {
    this.socket.write(GREETING);
  }

  send(frame: Uint8Array): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableLength > MAX_QUEUED) {
      this.dropped++;
      return;
    }
    // Frames written within one turn leave in one writev.
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32LE(frame.length, 0);
    socket.write(header);
    socket.write(Buffer.from(frame));
  }
}

type Role =
  | { readonly kind: "none" }
  | { readonly kind: "serving"; readonly server: net.Server; readonly peers: Set<net.Socket> }
  | { readonly kind: "relaying"; readonly stream: FrameStream; readonly uplink: MemoryPort };

/** One named switch in this process: its bridge, and its place on the host's segment. */
class NamedSwitch {
  readonly bridge: MemorySwitch;
  ports = 0;
  #role: Role = { kind: "none" };
  #joining: Promise<void> | undefined;
  #closed = false;

  constructor(
    readonly name: string,
    readonly socketPath: string,
    Bridge: typeof MemorySwitch,
  ) {
    this.bridge = new Bridge({ mtu: SWITCH_MTU });
  }

  /** Resolves once this switch serves or relays the host's segment. */
  connected(): Promise<void> {
    if (this.#role.kind !== "none") return Promise.resolve();
    this.#joining ??= this.#join().finally(() => {
      this.#joining = undefined;
    });
    return this.#joining;
  }

  async #join(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) return;
      const served = await this.#serve();
      if (served) return;
      const relayed = await this.#relay();
      if (relayed) return;
      // Nobody answers on the socket: it is left over from a tender that died. Remove it,
      // under a lock so two tenders electing at once cannot remove each other's fresh socket.
      if (await this.#removeStaleSocket()) continue;
      if (attempt > 50)
        throw new Error(`cannot join switch ${this.name}: ${this.socketPath} stays unusable`);
      await new Promise((resolve) => setTimeout(resolve, 20 + attempt * 5));
    }
  }

  /** Listens on the socket; false when another tender already does (or its socket is left over). */
  #serve(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const peers = new Set<net.Socket>();
      const server = net.createServer((socket) => this.#accept(socket, peers));
      server.once("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "EADDRINUSE") resolve(false);
        else
          reject(
            new Error(`cannot serve switch ${this.name} on ${this.socketPath}: ${error.message}`),
          );
      });
      server.listen({ path: this.socketPath, exclusive: true }, () => {
        server.unref();
        if (this.#closed) {
          server.close();
          resolve(true);
          return;
        }
        this.#role = { kind: "serving", server, peers };
        resolve(true);
      });
    });
  }

  /** A relay connected: it gets a port on this bridge. */
  #accept(socket: net.Socket, peers: Set<net.Socket>): void {
    socket.unref();
    peers.add(socket);
    const port = this.bridge.attach({ mac: localMac() });
    const stream = new FrameStream(
      socket,
      (frame) => void port.write(frame),
      () => {},
    );
    stream.greet();
    port.listen((frame) => stream.send(frame));
    const leave = () => {
      peers.delete(socket);
      port.disconnect();
    };
    socket.on("close", leave);
    socket.on("error", () => socket.destroy());
  }

  /** Connects to the tender serving the switch; false when nobody answers. */
  #relay(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ path: this.socketPath });
      socket.once("error", () => resolve(false));
      socket.once("connect", () => {
        socket.removeAllListeners("error");
        socket.unref();
        if (this.#closed) {
          socket.destroy();
          resolve(true);
          return;
        }
        const uplink = this.bridge.attach({ mac: localMac() });
        const stream = new FrameStream(
          socket,
          (frame) => void uplink.write(frame),
          () => {},
        );
        stream.greet();
        uplink.listen((frame) => stream.send(frame));
        this.#role = { kind: "relaying", stream, uplink };
        socket.on("error", () => socket.destroy());
        socket.once("close", () => {
          uplink.disconnect();
          if (this.#role.kind === "relaying" && this.#role.stream === stream)
            this.#role = { kind: "none" };
          // The serving tender left: elect a new one, unless this switch is closing too.
          if (!this.#closed) void this.connected().catch(() => {});
        });
        resolve(true);
      });
    });
  }

  async #removeStaleSocket(): Promise<boolean> {
    const lock = `${this.socketPath}.lock`;
    try {
      mkdirSync(lock);
    } catch {
      // Another tender is electing; a lock older than two seconds belongs to one that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 2000) rmdirSync(lock);
      } catch {}
      return false;
    }
    try {
      // Still nobody answering, now that we hold the lock? Then the socket is stale.
      if (await this.#answers()) return true;
      try {
        unlinkSync(this.socketPath);
      } catch {}
      return true;
    } finally {
      try {
        rmdirSync(lock);
      } catch {}
    }
  }

  #answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ path: this.socketPath });
      socket.once("error", () => resolve(false));
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
    });
  }

  close(): void {
    this.#closed = true;
    switches.delete(this.name);
    const role = this.#role;
    this.#role = { kind: "none" };
    if (role.kind === "serving") {
      role.server.close();
      for (const peer of role.peers) peer.destroy();
    } else if (role.kind === "relaying") {
      role.stream.socket.destroy();
      role.uplink.disconnect();
    }
  }
}
