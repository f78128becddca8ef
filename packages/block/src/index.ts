// @atoll/block: the Block signature, the memory driver and the combinators
// (slice, readOnly, cache, crashSim). The file driver is in @atoll/block/node.

export {
  type BlockDriver,
  CachedBlock,
  type CacheOptions,
  type CacheStats,
  cache,
  readOnly,
  type SliceWindow,
  slice,
  type WrappedBlock,
  wrapDriver,
} from "./combinators.js";
export {
  applySurvivors,
  type CrashPlan,
  CrashSimBlock,
  crashSim,
  randomCrashPlan,
  type SurvivingWrite,
  survivingWrites,
  type UnflushedWrite,
} from "./crashsim.js";
export {
  BlockConfigError,
  BlockIoError,
  BlockLockedError,
  BlockOutOfRangeError,
  BlockReadOnlyError,
  BlockUnalignedError,
} from "./errors.js";
export { bufferList, checkRange, checkRequest, isPowerOfTwo } from "./io.js";
export {
  MemoryBlock,
  type MemoryBlockOptions,
  MemoryDisk,
  type MemoryDiskOptions,
  memoryBlock,
} from "./memory.js";
export { Block, type BlockInfo, type SectorBuffers } from "./signature.js";
