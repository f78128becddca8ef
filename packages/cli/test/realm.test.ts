// The Web APIs an image brings: checked against Node's own implementations.
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// The image's own implementations, side by side with Node's (nothing is installed as a global).
const shims: Record<string, any> = await import("../src/image/realm.js");

describe("the image's TextEncoder and TextDecoder", () => {
  it("encode like Node's, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect([...new shims.TextEncoder().encode(s)]).toEqual([...new TextEncoder().encode(s)]);
      }),
      { seed: 3, numRuns: 500 },
    );
  });

  it("decode any bytes like Node's, in one piece or streamed in chunks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (bytes, cut) => {
        const expected = new TextDecoder().decode(bytes);
        expect(new shims.TextDecoder().decode(bytes)).toBe(expected);
        const streamed = new shims.TextDecoder();
        const at = cut % (bytes.length + 1);
        expect(
          streamed.decode(bytes.subarray(0, at), { stream: true }) +
            streamed.decode(bytes.subarray(at)),
        ).toBe(expected);
      }),
      { seed: 5, numRuns: 1000 },
    );
  });

  it("decode valid UTF-8 of any text, and refuse invalid bytes when fatal", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        expect(new shims.TextDecoder().decode(new TextEncoder().encode(s))).toBe(s);
      }),
      { seed: 9, numRuns: 300 },
    );
    expect(() =>
      new shims.TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.of(0xff)),
    ).toThrow(TypeError);
    expect(() => new shims.TextDecoder("latin1")).toThrow(/only utf-8/);
  });
});

describe("the image's AbortController", () => {
  it("aborts once, with a reason, telling listeners and onabort", () => {
    const controller = new shims.AbortController();
    const seen: string[] = [];
    controller.signal.onabort = () => seen.push("onabort");
    controller.signal.addEventListener("abort", () => seen.push("once"), { once: true });
    controller.abort("why");
    controller.abort("again");
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBe("why");
    expect(seen).toEqual(["onabort", "once"]);
    expect(() => controller.signal.throwIfAborted()).toThrow();
    const plain = new shims.AbortController();
    plain.abort();
    expect(plain.signal.reason).toMatchObject({ name: "AbortError" });
    expect(shims.AbortSignal.abort(1).aborted).toBe(true);
  });

  it("queues microtasks", async () => {
    const order: number[] = [];
    shims.queueMicrotask(() => order.push(2));
    order.push(1);
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
  });
});
