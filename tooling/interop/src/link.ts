// The link between a unikernel and Linux: a TAP device opened by this
// process (the unikernel's end), whose Linux side is then moved into a
// network namespace and addressed there. The descriptor this process holds
// keeps working after the move — the kernel ties it to the device, not to
// a namespace — so traffic between the unikernel and the namespace never
// touches the host's own network.
//
// Also the peer arrangement the benchmark compares with: a veth pair
// between two namespaces (Linux to Linux).

import { formatMac } from "@atoll/netif";
import { openTap, type TapNetif, type TapOptions } from "@atoll/netif-tap";
import { execHost, Netns, uniqueName } from "./netns.js";

export interface TapLinkOptions {
  /** The Linux side's address with prefix (`10.77.0.1/24`); none when undefined (DHCP servers add their own). */
  readonly linux?: string | undefined;
  readonly mtu?: number;
  /** TAP options (the unikernel's MAC, batch sizes). */
  readonly tap?: Omit<TapOptions, "name" | "mtu">;
}

export interface TapLink {
  /** The unikernel's end: a Netif on the TAP device. */
  readonly netif: TapNetif;
  /** The namespace the Linux side lives in. */
  readonly netns: Netns;
  /** The interface's name (inside the namespace). */
  readonly name: string;
  /** The Linux side's MAC, `aa:bb:...`. */
  readonly hostMac: string;
  /** The unikernel's MAC, `aa:bb:...`. */
  readonly mac: string;
  close(): Promise<void>;
}

/** Opens a TAP device, moves its Linux side into `netns` (a new one by default), sets it up. */
export async function openTapLink(options: TapLinkOptions = {}, netns?: Netns): Promise<TapLink> {
  const ns = netns ?? (await Netns.create());
  let netif: TapNetif | undefined;
  try {
    netif = openTap({
      ...options.tap,
      name: uniqueName("ai"),
      ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
    });
    const name = netif.name;
    // Moving the interface takes it down and drops its addresses; the descriptor stays ours.
    await adoptInterface(name, ns, options.linux);
    const tap = netif;
    return {
      netif: tap,
      netns: ns,
      name,
      hostMac: formatMac(tap.hostMac),
      mac: formatMac(tap.mac),
      async close() {
        tap.close();
        if (netns === undefined) await ns.close();
      },
    };
  } catch (error) {
    netif?.close();
    if (netns === undefined) await ns.close();
    throw error;
  }
}

/**
 * Moves an interface that another process opened (a unikernel's TAP device)
 * into `netns`, addresses it (`linux`, with prefix) and sets it up. Its
 * name is unchanged. The interface goes away when its owner closes it.
 */
export async function adoptInterface(
  name: string,
  netns: Netns,
  linux: string | undefined,
): Promise<void> {
  const moved = await execHost(["ip", "link", "set", name, "netns", netns.name]);
  if (moved.code !== 0) throw new Error(`ip link set ${name} netns ${netns.name}: ${moved.stderr}`);
  if (linux !== undefined) await netns.ip("addr", "add", linux, "dev", name);
  await netns.ip("link", "set", name, "up");
}

export interface VethPair {
  readonly a: Netns;
  readonly b: Netns;
  readonly aAddress: string;
  readonly bAddress: string;
  close(): Promise<void>;
}

/** Two namespaces joined by a veth pair, addressed `10.78.0.1/24` and `10.78.0.2/24`. */
export async function openVethPair(mtu = 1500): Promise<VethPair> {
  const a = await Netns.create();
  const b = await Netns.create();
  try {
    const ea = uniqueName("va");
    const eb = uniqueName("vb");
    await a.ip(
      "link",
      "add",
      ea,
      "mtu",
      String(mtu),
      "type",
      "veth",
      "peer",
      "name",
      eb,
      "netns",
      b.name,
    );
    await a.ip("addr", "add", "10.78.0.1/24", "dev", ea);
    await b.ip("addr", "add", "10.78.0.2/24", "dev", eb);
    await a.ip("link", "set", ea, "up");
    await b.ip("link", "set", eb, "up");
    return {
      a,
      b,
      aAddress: "10.78.0.1",
      bAddress: "10.78.0.2",
      async close() {
        await a.close();
        await b.close();
      },
    };
  } catch (error) {
    await a.close();
    await b.close();
    throw error;
  }
}
