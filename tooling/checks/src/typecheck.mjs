// Compiles TypeScript snippets as if they were files in a package, and returns
// their diagnostics as flattened text. Used by tests that pin compile errors
// (a missing binding must be a type error that names the device).
import path from "node:path";
import ts from "typescript";

/**
 * @param {string} packageDir directory whose tsconfig.json applies
 * @param {Record<string, string>} files virtual files: path relative to packageDir → contents
 * @returns {Record<string, string[]>} per file, one flattened message per diagnostic
 */
export function typecheckSnippets(packageDir, files) {
  const configPath = path.join(packageDir, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error)
    throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, packageDir);
  const virtual = new Map(
    Object.entries(files).map(([name, source]) => [path.resolve(packageDir, name), source]),
  );
  const host = ts.createCompilerHost(parsed.options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) => {
    const source = virtual.get(path.resolve(name));
    return source === undefined
      ? getSourceFile(name, languageVersion, ...rest)
      : ts.createSourceFile(name, source, languageVersion, true);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => virtual.has(path.resolve(name)) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => virtual.get(path.resolve(name)) ?? readFile(name);
  const program = ts.createProgram({
    rootNames: [...virtual.keys()],
    options: { ...parsed.options, noEmit: true },
    host,
  });
  /** @type {Record<string, string[]>} */
  const result = {};
  for (const name of Object.keys(files)) {
    const file = program.getSourceFile(path.resolve(packageDir, name));
    result[name] = ts
      .getPreEmitDiagnostics(program, file)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }
  return result;
}
