import { describe, expect, it, vi } from "vitest";
import { AtollError, isAtollError } from "../src/index.js";

describe("AtollError", () => {
  it("carries a stable code, a name and a cause", () => {
    const cause = new Error("disk on fire");
    const e = new AtollError("ATOLL_TEST", "it failed", { cause });
    expect(e.code).toBe("ATOLL_TEST");
    expect(e.name).toBe("AtollError");
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(Error);
  });

  it("is recognised across two copies of the package", async () => {
    vi.resetModules();
    // A query string makes the module loader evaluate a second, independent copy.
    const specifier = "../src/errors.js?copy";
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import("../src/errors.js");
    expect(copy.AtollError).not.toBe(AtollError);
    const foreign = new copy.AtollError("ATOLL_FOREIGN", "from the other copy");
    expect(foreign instanceof AtollError).toBe(false);
    expect(isAtollError(foreign)).toBe(true);
    expect(isAtollError(foreign, "ATOLL_FOREIGN")).toBe(true);
    expect(isAtollError(foreign, "ATOLL_OTHER")).toBe(false);
    expect(copy.isAtollError(new AtollError("ATOLL_X", "x"))).toBe(true);
    expect(isAtollError(new Error("plain"))).toBe(false);
    expect(isAtollError({ code: "ATOLL_FAKE" })).toBe(false);
  });
});
