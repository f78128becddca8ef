// The `tap` driver: a Netif on a Linux TAP device, with its runtime arguments.

import { arg, driver } from "@atoll/core";
import { formatMac, InvalidNetifOptionError, MAX_MTU, MIN_MTU, Netif } from "@atoll/netif";
import { toUnicastMac, unicastMacOrUndefined } from "./mac.js";
import {
  checkRange,
  interfaceNameProblem,
  openTap,
  type TapNetif,
  type TapOptions,
} from "./tap.js";

/**
 * A Netif on a Linux TAP device. Options give the defaults; the runtime
 * arguments `--tap=NAME`, `--mac=MAC` and `--mtu=N` (also accepted as
 * `--<device>.tap=NAME` and so on, for the binding key `<device>`) override them.
 */
export const tap = (options: TapOptions = {}) => {
  // Options are checked when the driver is made, so a bad one fails at binding time.
  const name = options.name ?? "tap%d";
  const problem = interfaceNameProblem(name);
  if (problem !== undefined)
    throw new InvalidNetifOptionError("name", `"${name}" is not an interface name: ${problem}`);
  const mac = options.mac === undefined ? undefined : toUnicastMac(options.mac);
  if (options.hostMac !== undefined) toUnicastMac(options.hostMac, "hostMac");
  if (options.mtu !== undefined) checkRange("mtu", options.mtu, MIN_MTU, MAX_MTU);
  return driver({
    name: "netif.tap",
    provides: Netif,
    args: {
      tap: arg.custom(
        {
          metavar: "NAME",
          form: "an interface name of at most 15 bytes, like tap0 (tap%d picks a free number)",
          parse: (text) => (interfaceNameProblem(text) === undefined ? text : undefined),
        },
        { doc: "TAP interface to attach to (created when absent)", default: name },
      ),
      mac: arg.custom(
        {
          metavar: "MAC",
          form: "a unicast MAC address like 02:00:00:00:00:01",
          parse: unicastMacOrUndefined,
          accept: unicastMacOrUndefined,
          format: (mac) => formatMac(mac),
        },
        {
          doc: "the unikernel's MAC address (default: random, locally administered)",
          optional: true,
          ...(mac === undefined ? {} : { default: mac }),
        },
      ),
      mtu: arg.int({
        min: MIN_MTU,
        max: MAX_MTU,
        doc: "link MTU, set on the interface (default: the interface's, 1500 when new)",
        optional: true,
        ...(options.mtu === undefined ? {} : { default: options.mtu }),
      }),
    },
    connect(_devices, args, { log }) {
      return openTap({
        ...options,
        name: args.tap,
        ...(args.mac === undefined ? {} : { mac: args.mac }),
        ...(args.mtu === undefined ? {} : { mtu: args.mtu }),
        log,
      });
    },
    disconnect(netif) {
      (netif as TapNetif).close();
    },
  });
};
