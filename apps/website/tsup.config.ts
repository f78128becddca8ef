import { staticKvPlugin } from "@atoll/kv/build";
import { defineConfig } from "tsup";

// `import site from "static-kv:../site"` in src/main.ts embeds the site's
// files in the build: the unikernel carries its content with it.
export default defineConfig({
  entry: {
    main: "src/main.ts",
    unikernel: "src/unikernel.ts",
    "loopback-proxy": "src/loopback-proxy.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  clean: true,
  sourcemap: true,
  esbuildPlugins: [staticKvPlugin()],
});
