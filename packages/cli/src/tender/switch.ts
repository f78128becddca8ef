// `--net:SLOT=switch:NAME`: a port on the named in-process MemorySwitch of
// @atoll/netif. Every image of this tender process attached to the same name
// shares one learning bridge (tests and the library run several images in
// one process); two `atoll run` processes are not bridged yet.

import { MemorySwitch, type Netif } from "@atoll/netif";

const switches = new Map<string, { readonly bridge: MemorySwitch; ports: number }>();

/** A new port on the switch `name`, and a function that leaves it. */
export function switchPort(name: string): { netif: Netif; close(): void } {
  let entry = switches.get(name);
  if (entry === undefined) switches.set(name, (entry = { bridge: new MemorySwitch(), ports: 0 }));
  const port = entry.bridge.attach();
  entry.ports++;
  const owner = entry;
  return {
    netif: port,
    close() {
      port.disconnect();
      if (--owner.ports === 0) switches.delete(name);
    },
  };
}
