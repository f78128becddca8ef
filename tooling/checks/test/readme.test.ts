// The README's composition example must compile: it is type-checked as a file of apps/hello.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { typecheckSnippets } from "../src/typecheck.mjs";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
const example = /<!-- readme-example[^>]*-->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
const appDir = fileURLToPath(new URL("../../../apps/hello", import.meta.url));

describe("README", () => {
  it("has a composition example", () => {
    expect(example).toBeDefined();
    expect(example).toContain("createUnikernel");
  });

  it("its composition example type-checks, and fails naming the device when a binding is removed", () => {
    const broken = example!.replace("Countdown({ console, time })", "Countdown({ console })");
    expect(broken).not.toBe(example);
    const results = typecheckSnippets(appDir, {
      "src/__readme__.ts": example!,
      "src/__readme_broken__.ts": broken,
    });
    expect(results["src/__readme__.ts"]).toEqual([]);
    expect(results["src/__readme_broken__.ts"]!.join("\n")).toMatch(/Property 'time' is missing/);
  });
});
