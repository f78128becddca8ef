#!/usr/bin/env node
// The publish step of `pnpm release`: `changeset publish`, aimed at the
// registry pnpm is configured with. changesets reads the registry only from
// the npm_config_registry environment variable (or a package's
// publishConfig.registry) and otherwise publishes to registry.npmjs.org, so a
// registry set in an .npmrc would be ignored. This resolves the registry (and
// an @atoll-scoped one) through pnpm's own configuration chain — environment,
// project .npmrc, user .npmrc (npm_config_userconfig), global — and hands
// them to changesets. Arguments pass through (`pnpm release --no-git-tag`).
import { spawnSync } from "node:child_process";

const env = { ...process.env };
for (const key of ["registry", "@atoll:registry"]) {
  const variable = `npm_config_${key}`;
  if (env[variable]) continue;
  const value = pnpmConfig(key);
  if (value !== undefined) env[variable] = value;
}
console.log(`publishing to ${env["npm_config_@atoll:registry"] ?? env.npm_config_registry}`);

const result = spawnSync("pnpm", ["exec", "changeset", "publish", ...process.argv.slice(2)], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);

function pnpmConfig(key) {
  const out = spawnSync("pnpm", ["config", "get", key], { encoding: "utf8", env });
  const value = out.stdout?.trim();
  return out.status === 0 && value && value !== "undefined" ? value : undefined;
}
