// The `tap` driver: a Netif on a Linux TAP device, with its runtime arguments.

import { ArgumentError, arg, driver } from "@atoll/core";
import { Netif } from "@atoll/netif";
import { formatMac, toUnicastMac } from "./mac.js";
import {
  interfaceNameProblem,
  MAX_MTU,
  MIN_MTU,
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
  const mac = options.mac === undefined ? undefined : toUnicastMac(options.mac);
  if (options.mac !== undefined && mac === undefined)
    throw new ArgumentError(
      "mac",
      `tap(): mac ${String(options.mac)} is not a unicast MAC address`,
    );
  const name = options.name ?? "tap%d";
  const problem = interfaceNameProblem(name);
  if (problem !== undefined)
    throw new ArgumentError(
      "tap",
      `tap(): interface name ${JSON.stringify(name)} is invalid: ${problem}`,
    );
  if (
    options.mtu !== undefined &&
    !(Number.isInteger(options.mtu) && options.mtu >= MIN_MTU && options.mtu <= MAX_MTU)
  )
    throw new ArgumentError(
      "mtu",
      `tap(): mtu must be an integer between ${MIN_MTU} and ${MAX_MTU}`,
    );
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
          parse: toUnicastMac,
          accept: toUnicastMac,
          format: formatMac,
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
