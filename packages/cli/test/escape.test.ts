// The adversarial image: every escape attempt must fail, and the tender must
// survive the image's forged ring entries (and run the next image normally).
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { Netif } from "@atoll/netif";
import { beforeAll, describe, expect, it } from "vitest";
import { type BuildResult, runImage, type TenderResult } from "../src/index.js";
import { build, Capture, fixture, root, tmp } from "./helpers.js";

let result: TenderResult;
let output: string;
let dir: string;
/** The kv slots' directories, and a directory beside them that they link to. */
let kvBase: string;
let roDir: string;
let rwDir: string;
let outside: string;
let before: { ro: string; outside: string; passwd: string; base: string[] };

const passwd = "/etc/passwd";
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const passwdHash = () => (existsSync(passwd) ? sha(readFileSync(passwd)) : "none");

/** Every entry below `root`: its kind, and the contents of files and targets of links. */
function snapshot(root: string): string {
  const out: string[] = [];
  const visit = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = path.join(at, name);
      const st = lstatSync(full);
      const rel = path.relative(root, full);
      if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/`);
        visit(full);
      } else out.push(`${rel} ${st.size} ${sha(readFileSync(full))} ${st.mtimeMs}`);
    }
  };
  visit(root);
  return out.join("\n");
}

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
  kvBase = tmp();
  roDir = path.join(kvBase, "ro");
  rwDir = path.join(kvBase, "rw");
  outside = path.join(kvBase, "outside");
  mkdirSync(path.join(roDir, "sub"), { recursive: true });
  mkdirSync(rwDir);
  mkdirSync(outside);
  writeFileSync(path.join(roDir, "greeting.txt"), "Hello from the host");
  writeFileSync(path.join(roDir, "sub", "a.txt"), "a");
  writeFileSync(path.join(outside, "decoy.txt"), "decoy");
  for (const d of [roDir, rwDir]) {
    symlinkSync(passwd, path.join(d, "link-passwd"));
    symlinkSync(outside, path.join(d, "link-out"));
    symlinkSync(path.join(outside, "decoy.txt"), path.join(d, "link-decoy"));
  }
  before = {
    ro: snapshot(roDir),
    outside: snapshot(outside),
    passwd: passwdHash(),
    base: readdirSync(kvBase).sort(),
  };
  const out = new Capture();
  const err = new Capture();
  result = await runImage(image.path, {
    net: { net: loopback() },
    block: { disk },
    kv: { ro: roDir, rw: rwDir },
    stdout: out,
    stderr: err,
  });
  output = out.text() + err.text();
}, 60_000);

describe("the adversarial image", () => {
  it("makes every attempt, and no attempt escapes", () => {
    const attempts = Number(/attempts: (\d+)/.exec(output)?.[1]);
    expect(output).not.toContain("ESCAPED");
    expect(attempts).toBeGreaterThan(350);
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
      "ro",
      "rw",
      "ro has no way to write",
      "ro.get() promise",
      "ro.get() value",
      "ro.list()",
      "ro.lastModified() as a Date",
      "rw.set() promise",
      "kv not-found error",
      "kv not-found error.constructor.constructor",
      "kv error prepareStackTrace call sites",
      'ro.get("/../../../../etc/passwd")',
      'rw.set("/../../../../etc/passwd")',
      'rw.rename(/probe.txt, ["..","..","etc","passwd"])',
      'rw.get("/link-passwd")',
      'rw.setPartial("/link-decoy")',
      "rw.set(/link-out/pwned)",
      "rw.set(shape-shifting array key)",
      "rw.set(key of 5000 bytes)",
      "rw.set(a Uint8Array claiming 2^31 bytes)",
      "forged kv request: read /../../etc/passwd",
      "forged kv request: set /../forged-out.txt",
      "forged kv request: set on the read-only slot",
      "forged kv stages of 40 requests",
      "forged kv responses",
    ])
      expect(output).toContain(`held ${name}\n`);
  });

  it("reads and writes nothing outside the kv slots' directories", () => {
    expect(snapshot(roDir)).toBe(before.ro);
    expect(snapshot(outside)).toBe(before.outside);
    expect(passwdHash()).toBe(before.passwd);
    expect(readdirSync(kvBase).sort()).toEqual(before.base);
    for (const d of [kvBase, path.dirname(kvBase), "/"])
      for (const name of [
        "forged-out.txt",
        "renamed-out.txt",
        "shifted-out",
        "tostring-out",
        "pwned",
      ])
        expect(existsSync(path.join(d, name)), path.join(d, name)).toBe(false);
    // What the image wrote stays inside rw (replacing a link there replaces the link, not its target).
    expect(readFileSync(path.join(rwDir, "probe.txt"), "utf8")).toBe("probe");
    // No host file and no host path reached the image.
    const firstLine = existsSync(passwd) ? readFileSync(passwd, "utf8").split("\n")[0]! : "";
    if (firstLine !== "") expect(output).not.toContain(firstLine);
    expect(output).not.toMatch(/root:[^:\n]*:0:0:/);
    expect(output).not.toContain(kvBase);
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
    expect(violations).toMatch(/kv slot "rw": keys longer than the request/);
    expect(violations).toMatch(/kv slot "rw": a key that is not UTF-8/);
    expect(violations).toMatch(/kv slot "rw": unknown operation 77/);
    expect(violations).toMatch(/kv slot "rw": a request of 4 bytes/);
    expect(violations).toMatch(/kv slot "rw": a stage of 0 bytes/);
    expect(violations).toMatch(/kv slot "rw": stages of more than 8 requests at once/);
    expect(violations).toMatch(/kv slot "rw" request ring: entry of 100000 bytes/);
    expect(violations).toMatch(/kv slot "ro" request ring: impossible producer counter/);
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
