// `import site from "static-kv:../site"`: a directory captured at build time by
// @atoll/kv/build's staticKvPlugin (see tsup.config.ts).
declare module "static-kv:*" {
  const image: import("@atoll/kv").StaticKvImage;
  export default image;
}
