// The adversarial image: every escape attempt must fail, and the tender must
// survive the image's forged ring entries (and run the next image normally).
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Netif } from "@atoll/netif";
import { beforeAll, describe, expect, it } from "vitest";
import { type BuildResult, runImage, type TenderResult } from "../src/index.js";
import { build, Capture, fixture, root, tmp } from "./helpers.js";

let result: TenderResult;
let output: string;
let dir: string;

const loopback = (): Netif => {
  let listener: ((f: Uint8Array) => void) | undefined;
  return {
    mac: Uint8Array.of(2, 0, 0, 0, 0, 9),
    mtu: 1500,
    write: (frame) => {
      const copy = frame.slice();
      setImmediate(() => listener?.(copy));
      return true;
    },
    listen: (l) => {
      listener = l;
    },
    stats: {
      rxBytes: 0,
      rxPackets: 0,
      rxDropped: 0,
      rxErrors: 0,
      txBytes: 0,
      txPackets: 0,
      txDropped: 0,
      txErrors: 0,
    },
  };
};

beforeAll(async () => {
  dir = tmp();
  const image: BuildResult = await build(fixture("apps/escape.ts"), dir);
  const disk = path.join(dir, "disk.img");
  writeFileSync(disk, new Uint8Array(64 * 1024));
  const out = new Capture();
  const err = new Capture();
  result = await runImage(image.path, {
    net: { net: loopback() },
    block: { disk },
    stdout: out,
    stderr: err,
  });
  output = out.text() + err.text();
}, 60_000);

describe("the adversarial image", () => {
  it("makes every attempt, and no attempt escapes", () => {
    const attempts = Number(/attempts: (\d+)/.exec(output)?.[1]);
    expect(output).not.toContain("ESCAPED");
    expect(attempts).toBeGreaterThan(80);
    for (const name of [
      "global process",
      "global require",
      "global Buffer",
      "global setTimeout",
      "global fetch",
      "global console",
      "globalThis own names",
      'Function("return this")()',
      'eval("this")',
      "this.constructor.constructor",
      "AsyncFunction constructor",
      "import(node:fs)",
      "import(fs) from Function",
      "import(node:child_process) from eval",
      "import.meta from Function",
      "poll-proxy-apply",
      "timer callback arguments/this/caller",
      "promise reaction arguments/this/caller",
      "frame listener arguments/this/caller",
      "Error.prepareStackTrace call sites",
      "prototype pollution",
      "console",
      "console.input()",
      "time.setTimer()",
      "time.sleep()",
      "random.bytes()",
      "net",
      "net.stats",
      "disk",
      "disk.info()",
      "disk.read()",
      "context.signal",
      "memory",
      "globalThis",
      "globalThis.Error",
      "TextEncoder",
      "TextDecoder",
      "AbortController",
      "globalThis.Date",
    ])
      expect(output).toContain(`held ${name}\n`);
  });

  it("keeps running after polluting its prototypes", () => {
    expect(output).toContain("still running after pollution\n");
  });

  it("has its forged ring entries dropped and reported, and its own exit status kept", () => {
    expect(result.status).toBe(42);
    expect(result.outcome).toBe("exit");
    const violations = result.violations.join("\n");
    expect(violations).toMatch(/network slot "net" transmit ring: entry of 100000 bytes/);
    expect(violations).toMatch(/block slot "disk": unknown operation 99/);
    expect(violations).toMatch(/block slot "disk": sector -5/);
    expect(violations).toMatch(/block slot "disk": a write whose data does not match its length/);
    expect(violations).toMatch(/network slot "net" transmit ring: impossible producer counter/);
    expect(violations).toMatch(/console ring: entry of 2147483392 bytes/);
  });

  it("leaves the tender able to run the next image", async () => {
    const hello = await build(path.join(root, "apps/hello/src/unikernel.ts"), dir);
    const out = new Capture();
    const next = await runImage(hello.path, {
      argv: ["--times=1"],
      stdout: out,
      stderr: new Capture(),
    });
    expect(next.status).toBe(0);
    expect(out.text()).toBe("Hello World!\n");
  });
});
