import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Netif } from "@atoll/netif";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import { type BuildResult, runImage } from "../src/index.js";
import { build, Capture, fixture, io, root, tmp } from "./helpers.js";

let dir: string;
let hello: BuildResult;
let exits: BuildResult;
let devices: BuildResult;

beforeAll(async () => {
  dir = tmp();
  [hello, exits, devices] = await Promise.all([
    build(path.join(root, "apps/hello/src/unikernel.ts"), dir),
    build(fixture("apps/exits.ts"), dir),
    build(fixture("apps/devices.ts"), dir),
  ]);
});

describe("hello, sealed", () => {
  it("is built with the slots it declared and a manifest of its arguments", () => {
    expect(hello.manifest.name).toBe("hello");
    expect(hello.manifest.slots).toEqual({ console: "atoll.console/1", time: "atoll.time/1" });
    expect(hello.manifest.args.map((a) => a.flag)).toEqual(["hello", "times", "log"]);
    expect(hello.manifest.args[0]).toMatchObject({
      default: "Hello World!",
      doc: "the greeting to print",
    });
  });

  it("is inspected without running, for people and as JSON", async () => {
    const human = io(dir);
    expect(await main(["inspect", hello.path], human)).toBe(0);
    expect(human.stdout.text()).toMatch(/^hello 0\.1\.0 — prints a greeting/);
    expect(human.stdout.text()).toMatch(/console\s+atoll\.console\/1\s+provided by the tender/);
    expect(human.stdout.text()).toMatch(/--times=N\s+how many times to print it \(default: 4\)/);
    const json = io(dir);
    expect(await main(["inspect", "--json", hello.path], json)).toBe(0);
    expect(JSON.parse(json.stdout.text())).toEqual(hello.manifest);
  });

  it("runs with its arguments, prints its lines, and exits 0", async () => {
    const run = io(dir);
    const status = await main(["run", hello.path, "--", "--hello=Grüß dich 👋", "--times=3"], run);
    expect(run.stderr.text()).toBe("");
    expect(run.stdout.text()).toBe("Grüß dich 👋\n".repeat(3));
    expect(status).toBe(0);
  });

  it("prints the application's --help, and exits 2 on a bad argument", async () => {
    const helpRun = io(dir);
    expect(await main(["run", hello.path, "--", "--help"], helpRun)).toBe(0);
    // The tender prints it from the manifest, without starting the image.
    expect(helpRun.stdout.text()).toMatch(/^hello — prints a greeting, one second apart\n/);
    expect(helpRun.stdout.text()).toMatch(
      /Application:\n {2}--hello=TEXT +the greeting to print \(default: Hello World!\)\n/,
    );
    expect(helpRun.stdout.text()).toMatch(/Runtime:\n {2}--log=LEVELS/);
    const bad = io(dir);
    expect(await main(["run", hello.path, "--", "--times=lots"], bad)).toBe(2);
    expect(bad.stderr.text()).toMatch(
      /hello: --times: expected an integer between 0 and 1000000, got "lots"/,
    );
  });
});

describe("the atoll binary", () => {
  const bin = path.join(root, "packages/cli/bin/atoll.mjs");
  const builtCli = existsSync(path.join(root, "packages/cli/dist/cli.js"));
  if (!builtCli) console.warn("binary test skipped: build packages/cli first (pnpm build)");

  it.skipIf(!builtCli)("runs an image as a process and exits with the image's status", () => {
    const ok = spawnSync(
      process.execPath,
      [bin, "run", hello.path, "--", "--times=2", "--hello=hi"],
      { encoding: "utf8" },
    );
    expect(ok.stdout).toBe("hi\nhi\n");
    expect(ok.status).toBe(0);
    const code = spawnSync(
      process.execPath,
      [bin, "run", exits.path, "--", "--how=code", "--code=9"],
      { encoding: "utf8" },
    );
    expect(code.status).toBe(9);
    const usage = spawnSync(process.execPath, [bin, "run", exits.path, "--net:x=tap0"], {
      encoding: "utf8",
    });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/unknown slot "x"/);
  });
});

describe("exit status, as Solo5", () => {
  const run = async (how: string, extra: string[] = []) => {
    const out = new Capture();
    const err = new Capture();
    const result = await runImage(exits.path, {
      argv: [`--how=${how}`, ...extra],
      stdout: out,
      stderr: err,
    });
    return { ...result, out: out.text(), err: err.text() };
  };

  it("is 0 when the application returns", async () => {
    expect(await run("ok")).toMatchObject({ status: 0, outcome: "exit", out: "how=ok\n" });
  });

  it("is 1 when the application fails, with its error on stderr", async () => {
    const r = await run("fail");
    expect(r.status).toBe(1);
    expect(r.err).toContain("the application failed on purpose");
  });

  it("is the code the application exits with", async () => {
    expect(await run("code", ["--code=7"])).toMatchObject({ status: 7 });
  });

  it("is 255 when the image aborts (an exception out of a timer)", async () => {
    const r = await run("abort");
    expect(r.status).toBe(255);
    expect(r.err).toMatch(/exits: aborted: Error: a timer callback threw/);
  });

  it("stops a serving image on request, running its cleanup", async () => {
    const { startImage } = await import("../src/index.js");
    const out = new Capture();
    const running = await startImage(exits.path, {
      argv: ["--how=serve"],
      stdout: out,
      stderr: new Capture(),
    });
    for (let i = 0; i < 200 && !out.text().includes("tick"); i++)
      await new Promise((r) => setTimeout(r, 10));
    running.stop();
    const result = await running.done;
    expect(result.status).toBe(0);
    expect(out.text()).toBe("how=serve\ntick\nstopped cleanly\n");
  });

  it("runs an image on a vCPU thread started ahead of it, for the same memory limit", async () => {
    const { prestartVcpu } = await import("../src/index.js");
    const other = prestartVcpu(["--mem=64"])!;
    expect(other.take(128)).toBeUndefined();
    other.dispose();
    const vcpu = prestartVcpu(["--mem=64", "--", "--mem=1"])!;
    expect(vcpu.memoryMb).toBe(64);
    const out = new Capture();
    const result = await runImage(exits.path, {
      argv: ["--how=ok"],
      memoryMb: 64,
      vcpu,
      stdout: out,
      stderr: new Capture(),
    });
    expect(result.status).toBe(0);
    expect(out.text()).toBe("how=ok\n");
    expect(vcpu.take(64)).toBeUndefined(); // it was used
  });

  it("gives the image console input when it asks for it", async () => {
    const { Readable } = await import("node:stream");
    const out = new Capture();
    const result = await runImage(exits.path, {
      argv: ["--how=echo-input"],
      stdout: out,
      stderr: new Capture(),
      stdin: Readable.from([Buffer.from("hello "), Buffer.from("sealed world\n")]),
    });
    expect(result.status).toBe(0);
    expect(out.text()).toBe("how=echo-input\ninput: HELLO SEALED WORLD\n");
  });

  it("serves clocks, time and random from the tender, and no ambient time or randomness", async () => {
    const r = await run("clocks");
    expect(r.status).toBe(0);
    expect(r.out).toContain(
      "elapsed>=20ms:true year>=2024:true random:16:true Date.now:NaN new Date:Invalid Date",
    );
    expect(r.out).toContain("Math.random: Math.random is not available in a sealed image");
  });
});

describe("attachment errors, before anything starts (exit 2)", () => {
  const fails = async (args: string[], message: RegExp) => {
    const run = io(dir);
    expect(await main(args, run)).toBe(2);
    expect(run.stderr.text()).toMatch(message);
    expect(run.stdout.text()).toBe("");
  };

  it("rejects a missing slot", () =>
    fails(
      ["run", devices.path, "--block:disk=x.img"],
      /slot "service" \(atoll\.netif\/1\) is not attached: give --net:service=tapN\|tap:IFNAME\|switch:NAME/,
    ));

  it("rejects an unknown slot", () =>
    fails(
      ["run", hello.path, "--net:uplink=switch:lan"],
      /unknown slot "uplink" \(--net:uplink\): hello has slots "console", "time"/,
    ));

  it("rejects a slot of the wrong type", () =>
    fails(
      ["run", devices.path, "--block:service=disk.img", "--block:disk=x.img"],
      /slot "service" is a network slot \(atoll\.netif\/1\), not a block slot/,
    ));

  it("rejects attaching a slot the tender provides itself", () =>
    fails(
      ["run", hello.path, "--block:time=x.img"],
      /slot "time" is a timer slot \(atoll\.time\/1\), which the tender provides itself/,
    ));

  it("rejects a malformed network attachment", () =>
    fails(
      ["run", devices.path, "--net:service=eth0", "--block:disk=x.img"],
      /--net:service=eth0: expected tapN/,
    ));

  it("reports a block image it cannot open", () =>
    fails(
      ["run", devices.path, "--net:service=switch:lan", "--block:disk=/nonexistent/disk.img"],
      /slot "disk": cannot open \/nonexistent\/disk\.img: ENOENT/,
    ));

  it("rejects a corrupt image", () => {
    const corrupt = path.join(dir, "corrupt.atoll");
    const text = readFileSync(hello.path, "utf8");
    const at = text.lastIndexOf("Hello World!"); // in the code, after the manifest
    writeFileSync(corrupt, `${text.slice(0, at)}Hello Wörld!${text.slice(at + 12)}`);
    return fails(
      ["run", corrupt],
      /corrupt\.atoll is corrupt: its code does not match the SHA-256 in its manifest/,
    );
  });

  it("rejects a file that is not an image", () => {
    const notImage = path.join(dir, "not-image.atoll");
    writeFileSync(notImage, "export default 1;\n");
    return fails(
      ["run", notImage],
      /not a usable Atoll image: it does not start with an Atoll image header/,
    );
  });

  it("rejects an image built for a newer ABI", () => {
    const newer = path.join(dir, "newer.atoll");
    writeFileSync(newer, readFileSync(hello.path, "utf8").replace('"abi":1,', '"abi":2,'));
    return fails(
      ["run", newer],
      /built for boundary ABI 2, and this tender speaks ABI 1: upgrade @atoll\/cli/,
    );
  });

  it("rejects an image whose slot needs a signature this tender cannot serve", () => {
    const newer = path.join(dir, "newer-slot.atoll");
    writeFileSync(
      newer,
      readFileSync(hello.path, "utf8").replace('"time":"atoll.time/1"', '"time":"atoll.time/2"'),
    );
    return fails(
      ["run", newer],
      /slot "time" needs atoll\.time\/2, which this tender cannot serve/,
    );
  });

  it("rejects a bad --mem and unknown options", async () => {
    await fails(["run", hello.path, "--mem=lots"], /--mem=lots: expected a whole number of MiB/);
    await fails(["run", hello.path, "--frobnicate"], /unknown option --frobnicate/);
    await fails(["run"], /atoll run takes one IMAGE/);
  });
});

/** A host-side Netif for the test: records what the image sends, injects frames. */
function testNetif() {
  let listener: ((frame: Uint8Array) => void) | undefined;
  const sent: Uint8Array[] = [];
  const netif: Netif = {
    mac: Uint8Array.of(2, 0, 0, 0, 0, 1),
    mtu: 1500,
    write(frame) {
      sent.push(frame.slice());
      return true;
    },
    listen(l) {
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
  return { netif, sent, inject: (frame: Uint8Array) => listener?.(frame) };
}

describe("network and block slots", () => {
  it("carries frames both ways and serves a disk image, split into ring-sized requests", async () => {
    const disk = path.join(dir, "disk.img");
    writeFileSync(disk, new Uint8Array(1024 * 1024));
    const link = testNetif();
    const out = new Capture();
    out.on("pipe", () => {});
    const { startImage } = await import("../src/index.js");
    const running = await startImage(devices.path, {
      net: { service: link.netif },
      block: { disk },
      stdout: out,
      stderr: new Capture(),
    });
    for (let i = 0; i < 100 && !out.text().includes("listening"); i++)
      await new Promise((r) => setTimeout(r, 20));
    const frames = [0, 1, 2].map((n) => {
      const f = new Uint8Array(60 + n * 500);
      f.set([2, 0, 0, 0, 0, 2], 0); // destination: the image
      f.set(link.netif.mac, 6);
      for (let i = 14; i < f.length; i++) f[i] = (i + n) & 255;
      return f;
    });
    for (const f of frames) link.inject(f);
    const result = await running.done;
    expect(out.text()).toContain("disk: 2048 sectors of 512 bytes, rw=true");
    expect(out.text()).toContain("disk roundtrip: true true");
    expect(out.text()).toContain("out of range: ATOLL_BLOCK_OUT_OF_RANGE");
    expect(out.text()).toContain("mtu 1500");
    expect(out.text()).toContain("answered 3 frames; stats tx 3 rx 3");
    expect(result).toMatchObject({ status: 0, violations: [] });
    expect(link.sent).toHaveLength(3);
    for (const [i, f] of frames.entries()) {
      const reply = link.sent[i]!;
      expect([...reply.subarray(0, 6)]).toEqual([...link.netif.mac]);
      expect([...reply.subarray(14)]).toEqual([...f.subarray(14)].reverse());
    }
    const written = readFileSync(disk);
    expect(written[512 + 1]).toBe(7);
    expect(written[8 * 512]).toBe(0xab);
  });

  it("attaches a network slot to a named in-process switch", async () => {
    const { joinSwitch } = await import("../src/tender/switch.js");
    const name = `test-lan-${process.pid}`;
    const disk = path.join(dir, "disk2.img");
    writeFileSync(disk, new Uint8Array(1024 * 1024));
    const out = new Capture();
    const { startImage } = await import("../src/index.js");
    const running = await startImage(devices.path, {
      net: { service: `switch:${name}` },
      block: { disk },
      argv: ["--frames=2"],
      stdout: out,
      stderr: new Capture(),
    });
    const peer = await joinSwitch(name);
    const replies: Uint8Array[] = [];
    peer.netif.listen((f: Uint8Array) => void replies.push(f.slice()));
    for (let i = 0; i < 100 && !out.text().includes("listening"); i++)
      await new Promise((r) => setTimeout(r, 20));
    for (let n = 0; n < 2; n++) {
      const f = new Uint8Array(64).fill(n);
      f.fill(0xff, 0, 6); // broadcast: the switch floods it to the image
      f.set(peer.netif.mac, 6);
      peer.netif.write(f);
    }
    const result = await running.done;
    peer.close();
    expect(result.status).toBe(0);
    expect(out.text()).toContain("answered 2 frames");
    expect(replies).toHaveLength(2);
    expect([...replies[0]!.subarray(0, 6)]).toEqual([...peer.netif.mac]);
  });

  it("attaches a disk image read-only, shared, and refuses a second writer", async () => {
    const disk = path.join(dir, "disk3.img");
    const bytes = new Uint8Array(256 * 1024);
    bytes[512 + 1] = 42;
    writeFileSync(disk, bytes);
    const { startImage } = await import("../src/index.js");
    const name = `lock-lan-${process.pid}`;
    // A writer holds the image (it waits for frames that never come until it is stopped).
    const out = new Capture();
    const writer = await startImage(devices.path, {
      net: { service: `switch:${name}` },
      block: { disk },
      argv: ["--frames=1"],
      stdout: out,
      stderr: new Capture(),
    });
    for (let i = 0; i < 100 && !out.text().includes("listening"); i++)
      await new Promise((r) => setTimeout(r, 20));
    const second = io(dir);
    expect(
      await main(
        ["run", devices.path, `--net:service=switch:${name}`, `--block:disk=${disk}`],
        second,
      ),
    ).toBe(2);
    expect(second.stderr.text()).toMatch(/slot "disk": .*disk3\.img is already open read-write/);
    expect(second.stderr.text()).toContain(`attach it read-only with --block-ro:disk=${disk}`);
    // Readers share it, with writes refused inside the image.
    const reader = io(dir);
    const status = await main(
      [
        "run",
        devices.path,
        `--net:service=switch:${name}`,
        `--block-ro:disk=${disk}`,
        "--",
        "--frames=0",
      ],
      reader,
    );
    expect(reader.stderr.text()).toBe("");
    expect(reader.stdout.text()).toContain("rw=false");
    expect(reader.stdout.text()).toMatch(
      /read-only write: ATOLL_BLOCK_READ_ONLY; sector 1 starts (42|7)/,
    );
    expect(status).toBe(0);
    writer.stop();
    expect((await writer.done).status).toBe(0);
  });
});
