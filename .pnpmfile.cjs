// pnpm hooks for this workspace. `beforePacking` shapes the package.json that
// goes into a tarball (`pnpm pack`, `pnpm publish`, and so `pnpm release`):
// a user gets what installing and importing need, not the workspace's
// development fields — scripts that run ../../tooling, devDependencies on
// private workspace packages, the source files `atoll.ambient` lists.
// Install lifecycle scripts stay (a native addon builds on install).
const KEPT_SCRIPTS = new Set(["preinstall", "install", "postinstall"]);

module.exports = {
  hooks: {
    beforePacking(pkg) {
      delete pkg.devDependencies;
      if (pkg.scripts) {
        const scripts = Object.fromEntries(
          Object.entries(pkg.scripts).filter(([name]) => KEPT_SCRIPTS.has(name)),
        );
        if (Object.keys(scripts).length > 0) pkg.scripts = scripts;
        else delete pkg.scripts;
      }
      if (pkg.atoll && "ambient" in pkg.atoll) {
        const { ambient: _ambient, ...atoll } = pkg.atoll;
        pkg.atoll = atoll;
      }
      return pkg;
    },
  },
};
