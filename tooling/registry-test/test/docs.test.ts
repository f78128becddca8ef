// docs/writing-a-driver.md stays true: its excerpts are the fixtures' code
// (which the registry test builds and runs from the published packages), its
// links resolve, and its table lists every signature id the packages declare.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../src/workspace.js";

const docPath = path.join(repoRoot, "docs", "writing-a-driver.md");
const doc = readFileSync(docPath, "utf8");

describe("docs/writing-a-driver.md", () => {
  it("quotes the fixtures verbatim (`// ...` marks an elision)", () => {
    const excerpts = [...doc.matchAll(/<!-- excerpt: (\S+) -->\n```\w*\n([\s\S]*?)```/g)];
    expect(excerpts.length).toBeGreaterThanOrEqual(5);
    for (const [, file, body] of excerpts) {
      const source = readFileSync(path.join(repoRoot, file!), "utf8");
      let from = 0;
      for (const chunk of body!.split(/^\s*\/\/ \.\.\.\n/m)) {
        const at = source.indexOf(chunk, from);
        expect(at, `${file}: not found (in order) in the file:\n${chunk}`).toBeGreaterThanOrEqual(
          0,
        );
        from = at + chunk.length;
      }
    }
  });

  it("links to files that exist", () => {
    const links = [...doc.matchAll(/\]\((\.\.\/[^)#]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      expect(existsSync(path.resolve(path.dirname(docPath), link)), link).toBe(true);
    }
  });

  it("lists every signature id the packages declare, with its package", () => {
    const declared = new Map<string, string>();
    const packagesDir = path.join(repoRoot, "packages");
    for (const pkg of readdirSync(packagesDir)) {
      const src = path.join(packagesDir, pkg, "src");
      if (!existsSync(src)) continue;
      for (const file of readdirSync(src).filter((f) => /^signatures?\.ts$/.test(f))) {
        const text = readFileSync(path.join(src, file), "utf8");
        for (const m of text.matchAll(/^export const \w+ = signature<\w+>\(\)\("([^"]+)"\)/gm)) {
          declared.set(m[1]!, `@atoll/${pkg}`);
        }
      }
    }
    expect(declared.size).toBeGreaterThan(5);
    for (const [id, pkg] of declared) {
      expect(doc, `${id} (${pkg})`).toMatch(
        new RegExp(`\\| \`${id.replaceAll(".", "\\.")}\` +\\| \`${pkg}\``),
      );
    }
  });
});
