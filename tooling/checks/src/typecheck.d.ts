/** Type-checks virtual files (path relative to `packageDir` → source) in one program; returns flattened diagnostics per file. */
export declare function typecheckSnippets(
  packageDir: string,
  files: Record<string, string>,
): Record<string, string[]>;
