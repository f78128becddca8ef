// @atoll/kv: the KvRo and KvRw signatures and the platform-neutral stores:
// memory, static (embedded at build time), tar over a Block, and the
// crash-safe log store over a Block. The directory driver is in @atoll/kv/node;
// the static-image build step in @atoll/kv/build.

export {
  AlreadyPresentError,
  CorruptStoreError,
  DictionaryExpectedError,
  InvalidKeyError,
  KeyNotFoundError,
  KvIoError,
  KvRangeError,
  NoSpaceError,
  RenameSourcePrefixError,
  UnknownFormatError,
  ValueExpectedError,
} from "./errors.js";
export { basename, formatKey, joinKey, type Key, parentKey, parseKey } from "./key.js";
export { LogKv, type LogKvOptions, type LogKvStats, logKv } from "./log/log-kv.js";
export { MemoryKv, type MemoryKvOptions, memoryKv } from "./memory.js";
export {
  type EntryKind,
  type KvEntry,
  KvRo,
  KvRw,
  type KvValue,
} from "./signature.js";
export { STATIC_KV_FORMAT, StaticKv, type StaticKvImage, staticKv } from "./static.js";
export { TarKv, type TarKvOptions, tarKv, tarKvRo } from "./tar/tar-kv.js";
export { readOnlyKv, readOnlyView } from "./view.js";
