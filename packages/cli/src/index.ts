// @atoll/cli: the `atoll` command's pieces as a library — build an image,
// read its manifest, run it in a tender, scaffold projects.

export { ABI_VERSION, type BootInfo, type BootSlot, type SlotKind, slotKinds } from "./abi.js";
export {
  BuildError,
  type BuildOptions,
  type BuildResult,
  buildImage,
  type HostNeed,
} from "./build/build.js";
export { formatAppHelp } from "./help.js";
export {
  formatImage,
  type Manifest,
  type ManifestArg,
  type ParsedImage,
  parseImage,
} from "./manifest.js";
export { checkImage, ImageError, loadImage } from "./tender/image-file.js";
export { joinSwitch, type SwitchPort } from "./tender/switch.js";
export {
  AttachError,
  type Attachments,
  type BlockAttachment,
  type BlockPath,
  checkAttachments,
  DEFAULT_MEMORY_MB,
  type KvAttachment,
  type NetAttachment,
  type PrestartedVcpu,
  prestartVcpu,
  type RunningImage,
  runImage,
  startImage,
  type TenderOptions,
  type TenderOutcome,
  type TenderResult,
} from "./tender/tender.js";
