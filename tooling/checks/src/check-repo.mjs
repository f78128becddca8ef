#!/usr/bin/env node
// The repository's own rules, run by CI after the build:
//  1. package hygiene (ESM, exports with types+import, sideEffects, files, README, LICENSE, engines, publint);
//  2. platform neutrality: a neutral entry point and everything it imports uses no node:* module,
//     Node built-in, Buffer, process, require, nor a host-only entry of another package;
//  3. time and randomness come from devices: neutral code outside the files a package lists under
//     `atoll.ambient` does not read Date.now, performance.now, Math.random, setTimeout, setInterval,
//     setImmediate or crypto.getRandomValues;
//  4. driver boundaries: a construct package imports another package's signatures, never its drivers.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import ts from "typescript";

const root = path.resolve(
  process.env.ATOLL_CHECK_ROOT ?? fileURLToPath(new URL("../../..", import.meta.url)),
);
const skipPublint = process.env.ATOLL_CHECK_SKIP_PUBLINT === "1";
const problems = [];
const report = (where, message) => problems.push(`${where}: ${message}`);

const packages = readdirSync(path.join(root, "packages"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(root, "packages", d.name, "package.json")))
  .map((d) => {
    const dir = path.join(root, "packages", d.name);
    return {
      dir,
      rel: path.relative(root, dir),
      json: JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")),
    };
  });
const byName = new Map(packages.map((p) => [p.json.name, p]));

// ---- 1. hygiene ---------------------------------------------------------------------------------
for (const pkg of packages) {
  const { json, rel, dir } = pkg;
  if (json.private) continue;
  if (json.type !== "module") report(rel, 'package.json must have "type": "module"');
  if (json.sideEffects !== false) report(rel, 'package.json must have "sideEffects": false');
  if (!/^\d+\.\d+\.\d+/.test(json.version ?? ""))
    report(rel, "package.json needs a semver version");
  if (!Array.isArray(json.files) || !json.files.includes("dist"))
    report(rel, '"files" must list "dist"');
  if (!/>=\s*20/.test(json.engines?.node ?? "")) report(rel, 'engines.node must be ">=20"');
  for (const f of ["README.md", "LICENSE"])
    if (!existsSync(path.join(dir, f))) report(rel, `${f} is missing`);
  const entries = json.atoll?.entries;
  if (entries === undefined)
    report(rel, 'package.json must classify its entry points under "atoll.entries"');
  for (const [sub, target] of Object.entries(json.exports ?? {})) {
    if (sub === "./package.json") continue;
    if (typeof target !== "object" || !target.types || !target.import) {
      report(rel, `exports["${sub}"] must have "types" and "import"`);
    }
    if (entries && !(sub in entries))
      report(rel, `exports["${sub}"] is not classified in atoll.entries`);
  }
  if (skipPublint) continue;
  const result = await publint({ pkgDir: dir, level: "suggestion", strict: true, pack: "pnpm" });
  for (const message of result.messages) {
    report(rel, `publint ${message.type}: ${formatMessage(message, json) ?? message.code}`);
  }
}

// ---- 2-4. source rules, with the type checker -----------------------------------------------------
const config = ts.readConfigFile(
  path.join(root, "tooling/config/tsconfig.base.json"),
  ts.sys.readFile,
).config;
const options = ts.parseJsonConfigFileContent(config, ts.sys, root).options;
options.types = ["node"];
options.typeRoots = [fileURLToPath(new URL("../../../node_modules/@types", import.meta.url))];
// Resolve @atoll/* imports to the workspace sources directly, whatever node_modules holds.
options.baseUrl = root;
options.paths = Object.fromEntries(
  packages.flatMap((p) =>
    Object.entries(p.json.exports ?? {})
      .filter(([, t]) => typeof t === "object" && t["@atoll/source"])
      .map(([sub, t]) => [
        `${p.json.name}${sub === "." ? "" : sub.slice(1)}`,
        [path.join(p.dir, t["@atoll/source"])],
      ]),
  ),
);
const rootFiles = packages.flatMap((p) => listSources(path.join(p.dir, "src")));
const program = ts.createProgram({ rootNames: rootFiles, options: { ...options, noEmit: true } });
const checker = program.getTypeChecker();
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const hostGlobals = new Set(["Buffer", "process", "require", "__dirname", "__filename", "global"]);
const ambientCalls = new Set([
  "Date.now",
  "performance.now",
  "Math.random",
  "crypto.getRandomValues",
  "globalThis.crypto.getRandomValues",
]);
const ambientFunctions = new Set(["setTimeout", "setInterval", "setImmediate"]);

for (const pkg of packages) {
  const entries = pkg.json.atoll?.entries ?? {};
  const ambient = new Set((pkg.json.atoll?.ambient ?? []).map((f) => path.join(pkg.dir, f)));
  for (const [sub, kind] of Object.entries(entries)) {
    if (kind !== "neutral") continue;
    const source = pkg.json.exports?.[sub]?.["@atoll/source"];
    if (!source) {
      report(pkg.rel, `exports["${sub}"] has no "@atoll/source" condition to check`);
      continue;
    }
    for (const file of closure(path.join(pkg.dir, source), pkg))
      checkNeutralFile(file, pkg, sub, ambient);
  }
  if (!pkg.json.atoll?.composes)
    for (const file of listSources(path.join(pkg.dir, "src"))) checkDriverImports(file, pkg);
}

if (problems.length > 0) {
  console.error(
    `repo check: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join("\n")}`,
  );
  process.exit(1);
}
console.log(
  `repo check: ${packages.length} packages, ${rootFiles.length} source files, all rules hold`,
);

// ---- helpers --------------------------------------------------------------------------------------

function listSources(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ts$/.test(e.name) && !/\.test(-d)?\.ts$/.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

/** Source files reachable from `entry` through relative imports, staying inside the package. */
function closure(entry, pkg) {
  const seen = new Set();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const sf = program.getSourceFile(file);
    if (!sf) {
      report(path.relative(root, file), "not part of the checked program");
      continue;
    }
    for (const spec of moduleSpecifiers(sf)) {
      if (!spec.text.startsWith(".")) continue;
      const resolved = ts.resolveModuleName(spec.text, file, options, ts.sys).resolvedModule;
      if (
        resolved?.resolvedFileName.startsWith(pkg.dir) &&
        !resolved.resolvedFileName.endsWith(".d.ts")
      ) {
        stack.push(resolved.resolvedFileName);
      }
    }
  }
  return seen;
}

function moduleSpecifiers(sf) {
  const out = [];
  const visit = (node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push({ text: node.moduleSpecifier.text, node, typeOnly: isTypeOnly(node) });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ text: node.arguments[0].text, node, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function isTypeOnly(node) {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (!clause) return false;
    if (clause.isTypeOnly) return true;
    const named = clause.namedBindings;
    return (
      !clause.name &&
      named &&
      ts.isNamedImports(named) &&
      named.elements.length > 0 &&
      named.elements.every((e) => e.isTypeOnly)
    );
  }
  return ts.isExportDeclaration(node) && node.isTypeOnly;
}

function where(sf, node) {
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return `${path.relative(root, sf.fileName)}:${line + 1}`;
}

function checkNeutralFile(file, pkg, sub, ambient) {
  const sf = program.getSourceFile(file);
  if (!sf) return;
  const entryName = `${pkg.json.name}${sub === "." ? "" : sub.slice(1)}`;
  for (const spec of moduleSpecifiers(sf)) {
    if (spec.typeOnly) continue;
    if (nodeBuiltins.has(spec.text)) {
      report(
        where(sf, spec.node),
        `imports "${spec.text}" but is part of the platform-neutral entry ${entryName}`,
      );
      continue;
    }
    const match = /^(@atoll\/[^/]+)(\/.*)?$/.exec(spec.text);
    if (match) {
      const target = byName.get(match[1]);
      const targetSub = match[2] ? `.${match[2]}` : ".";
      const kind = target?.json.atoll?.entries?.[targetSub];
      if (target && kind !== "neutral") {
        report(
          where(sf, spec.node),
          `imports the ${kind ?? "unclassified"} entry "${spec.text}" into the platform-neutral entry ${entryName}`,
        );
      }
    }
  }
  const visit = (node) => {
    if (ts.isIdentifier(node) && hostGlobals.has(node.text) && !isPropertyName(node)) {
      const symbol = checker.getSymbolAtLocation(node);
      const decl = symbol?.declarations?.[0];
      if (decl?.getSourceFile().fileName.includes("/@types/node/")) {
        report(
          where(sf, node),
          `uses Node's global "${node.text}" in the platform-neutral entry ${entryName}`,
        );
      }
    }
    if (!ambient.has(file)) {
      if (ts.isPropertyAccessExpression(node) && ambientCalls.has(node.getText(sf))) {
        report(
          where(sf, node),
          `reads ${node.getText(sf)} directly; take time and randomness from the Clock, Time and Random devices`,
        );
      }
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        ambientFunctions.has(node.expression.text)
      ) {
        report(
          where(sf, node),
          `calls ${node.expression.text} directly; schedule through the Time device`,
        );
      }
      if (
        ts.isNewExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === "Date" &&
        (node.arguments?.length ?? 0) === 0
      ) {
        report(where(sf, node), "reads the wall clock with new Date(); use the WallClock device");
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

function isPropertyName(node) {
  const parent = node.parent;
  return (
    (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
    (ts.isPropertyAssignment(parent) && parent.name === node) ||
    ts.isPropertySignature(parent) ||
    ts.isPropertyDeclaration(parent) ||
    ts.isMethodDeclaration(parent) ||
    ts.isMethodSignature(parent) ||
    (ts.isImportSpecifier(parent) && parent.propertyName === node)
  );
}

function checkDriverImports(file, pkg) {
  const sf = program.getSourceFile(file);
  if (!sf) return;
  for (const statement of sf.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier))
      continue;
    const match = /^(@atoll\/[^/]+)/.exec(statement.moduleSpecifier.text);
    if (!match || match[1] === "@atoll/core" || match[1] === pkg.json.name) continue;
    const named = statement.importClause?.namedBindings;
    if (!named || !ts.isNamedImports(named)) continue;
    for (const element of named.elements) {
      if (element.isTypeOnly) continue;
      let symbol = checker.getSymbolAtLocation(element.name);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      if (!symbol || !(symbol.flags & ts.SymbolFlags.Value)) continue;
      const type = checker.getTypeOfSymbolAtLocation(symbol, element);
      if (
        isDriverType(type) ||
        type.getCallSignatures().some((s) => isDriverType(s.getReturnType()))
      ) {
        report(
          where(sf, element),
          `imports the driver "${element.name.text}" from ${statement.moduleSpecifier.text}; a construct package depends on signatures and lets the application bind drivers`,
        );
      }
    }
  }
}

function isDriverType(type) {
  const kind = type.getProperty("kind");
  if (!kind) return false;
  const kindType = checker.getTypeOfSymbol(kind);
  return kindType.isStringLiteral() && kindType.value === "atoll.driver";
}
