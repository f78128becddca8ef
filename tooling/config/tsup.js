// Shared tsup preset: ESM only, declarations, no bundling of dependencies.
// Each package passes its entry points; everything else is decided here once.
import { defineConfig } from "tsup";

/**
 * @param {{ entry: Record<string, string>, platform?: "neutral" | "node", external?: (string | RegExp)[] }} options
 */
export function atollTsup(options) {
  return defineConfig({
    entry: options.entry,
    format: ["esm"],
    platform: options.platform ?? "neutral",
    target: "es2022",
    dts: { compilerOptions: { customConditions: [] } },
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    minify: false,
    external: [/^node:/, ...(options.external ?? [])],
    outDir: "dist",
  });
}
