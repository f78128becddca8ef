// @atoll/core: signatures, drivers, the device graph, the unikernel functor,
// runtime arguments, errors and logging. Platform-neutral.

export {
  type ArgEntry,
  type ArgInput,
  type ArgOptions,
  type ArgSpec,
  type ArgsSpec,
  type ArgValues,
  arg,
  type Env,
  type IntOptions,
  parseArgs,
  wantsHelp,
} from "./args.js";
export type { DeviceGraph, DeviceGraphEdge, DeviceGraphNode } from "./describe.js";
export {
  type AnyDriver,
  type AppBindings,
  type Binding,
  type ConnectContext,
  type DeviceOf,
  type DevicesOf,
  type Driver,
  type DriverDefinition,
  type DriverNeedsBindings,
  driver,
  isDriver,
  type NeedsSpec,
} from "./driver.js";
export {
  AbortedError,
  ArgumentError,
  AtollError,
  type AtollErrorOptions,
  BindingError,
  type BindingErrorCode,
  DeviceConnectError,
  DeviceDisconnectError,
  DisconnectedError,
  describeCause,
  isAtollError,
  LifecycleError,
} from "./errors.js";
export { formatCidr, formatIpv4, type Ipv4Cidr, parseCidr, parseIpv4 } from "./ipv4.js";
export {
  formatLogRecord,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogLevels,
  type LogRecord,
  LogReporter,
  parseLogLevels,
  silentLogger,
} from "./log.js";
export {
  type Device,
  type IdOf,
  isSignature,
  type ShapeOf,
  type Signature,
  type SignatureId,
  signature,
} from "./signature.js";
export {
  type AppContext,
  type Cleanup,
  createUnikernel,
  type StartOptions,
  type Unikernel,
  type UnikernelDefinition,
  type UnikernelFunctor,
  type UnikernelState,
} from "./unikernel.js";
export {
  formatBytes,
  formatDuration,
  hours,
  microseconds,
  milliseconds,
  minutes,
  NS_PER_MS,
  NS_PER_S,
  NS_PER_US,
  parseBytes,
  parseDuration,
  seconds,
  toMilliseconds,
  toSeconds,
} from "./units.js";
