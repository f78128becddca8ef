// Pins the wording of binding errors: the compiler's message names the device.
import { fileURLToPath } from "node:url";
import { typecheckSnippets } from "@atoll/checks/typecheck";
import { describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const prelude = `
import { createUnikernel } from "../src/index.js";
import { journal, Out, outDriver, Store, storeDriver, tickDriver } from "./fixtures.js";
const j = journal();
const App = createUnikernel({ name: "app", needs: { out: Out, store: Store }, start() {} });
`;
const cases = {
  complete: "App({ out: outDriver(j), store: storeDriver(j), clock: tickDriver(j) })",
  missingApp: "App({ out: outDriver(j), clock: tickDriver(j) })",
  missingDriverNeed: "App({ out: outDriver(j), store: storeDriver(j) })",
  wrongSignature: "App({ out: tickDriver(j), store: storeDriver(j), clock: tickDriver(j) })",
};
const results = typecheckSnippets(
  packageDir,
  Object.fromEntries(
    Object.entries(cases).map(([name, line]) => [
      `test/__${name}__.ts`,
      `${prelude}\nexport const uk = ${line};\n`,
    ]),
  ),
);
const diagnostics = (name: keyof typeof cases) => results[`test/__${name}__.ts`]!;

describe("binding errors at compile time", () => {
  it("accepts a complete binding", () => {
    expect(diagnostics("complete")).toEqual([]);
  });

  it("names the application's missing device", () => {
    expect(diagnostics("missingApp")).toHaveLength(1);
    expect(diagnostics("missingApp")[0]).toMatch(/Property 'store' is missing/);
  });

  it("names the missing device a driver needs", () => {
    expect(diagnostics("missingDriverNeed")[0]).toMatch(
      /Property 'clock' is missing .* but required in type 'DriverNeedsBindings/s,
    );
  });

  it("names the device bound to a driver of the wrong signature", () => {
    expect(diagnostics("wrongSignature")[0]).toMatch(
      /not assignable to type 'Binding<"out", Signature<Out, "atoll\.console\/1">>'/,
    );
  });
});
