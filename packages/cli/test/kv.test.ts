// Kv slots, sealed: an image with a KvRo and a KvRw slot run by `atoll run --kv:SLOT=DIR`
// against real directories, and the attachment errors of kv slots.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import type { BuildResult } from "../src/index.js";
import { build, fixture, io, tmp } from "./helpers.js";

let dir: string;
let stores: BuildResult;

beforeAll(async () => {
  dir = tmp();
  stores = await build(fixture("apps/stores.ts"), dir);
});

function directories() {
  const assets = path.join(dir, `assets-${Math.random().toString(36).slice(2)}`);
  const notes = path.join(dir, `notes-${Math.random().toString(36).slice(2)}`);
  mkdirSync(path.join(assets, "css"), { recursive: true });
  writeFileSync(path.join(assets, "greeting.txt"), "Hello from the host");
  writeFileSync(path.join(assets, "css", "site.css"), "body{}");
  const big = Buffer.alloc(150 * 1024 + 3, 7);
  writeFileSync(path.join(assets, "big.bin"), big);
  mkdirSync(notes);
  writeFileSync(path.join(notes, "old.txt"), "to be removed");
  return { assets, notes };
}

describe("kv slots", () => {
  it("declares KvRo and KvRw slots in the manifest", async () => {
    expect(stores.manifest.slots).toEqual({
      console: "atoll.console/1",
      assets: "atoll.kv.ro/1",
      notes: "atoll.kv.rw/1",
    });
    const human = io(dir);
    expect(await main(["inspect", stores.path], human)).toBe(0);
    expect(human.stdout.text()).toMatch(/assets\s+atoll\.kv\.ro\/1\s+attach with --kv:SLOT=DIR/);
    expect(human.stdout.text()).toContain("--kv:assets=DIR --kv:notes=DIR");
  });

  it("lists, gets, sets, removes and digests through directories the tender serves", async () => {
    const { assets, notes } = directories();
    const run = io(dir);
    const status = await main(
      ["run", stores.path, `--kv:assets=${assets}`, `--kv:notes=${path.relative(dir, notes)}`],
      run,
    );
    expect(run.stderr.text()).toBe("");
    expect(status).toBe(0);
    const out = run.stdout.text();
    expect(out).toContain("assets: /big.bin:value /css:dictionary /greeting.txt:value\n");
    expect(out).toContain("greeting: Hello from the host\n");
    const sha = createHash("sha256").update("Hello from the host").digest("hex");
    expect(out).toContain(`digest: ${sha}\n`);
    expect(out).toContain(`big: ${150 * 1024 + 3} bytes, size ${150 * 1024 + 3}\n`);
    expect(out).toContain("missing: ATOLL_KV_NOT_FOUND\n");
    expect(out).toContain("writable: false\n");
    expect(out).toContain("blob roundtrip: true\n");
    expect(out).toContain("todo: 1,2\n");
    expect(out).toContain("todo/1: buy oat milk\n");
    expect(out).toContain("through a value: ATOLL_KV_DICTIONARY_EXPECTED\n");
    expect(out).toContain("modified: true\n");
    // What the image wrote is on disk, and what it removed is gone.
    expect(readFileSync(path.join(notes, "todo", "1"), "utf8")).toBe("buy oat milk");
    expect(readFileSync(path.join(notes, "todo", "2"), "utf8")).toBe("write tests");
    const blob = readFileSync(path.join(notes, "blob.bin"));
    expect(blob.length).toBe(200 * 1024);
    expect(blob.every((b, i) => b === ((i * 13) & 255))).toBe(true);
    expect(existsSync(path.join(notes, "old.txt"))).toBe(false);
    // The read-only directory is untouched.
    expect(readFileSync(path.join(assets, "greeting.txt"), "utf8")).toBe("Hello from the host");
    // The digest of the notes is the directory driver's, computed in the tender.
    const { DirectoryKv } = await import("@atoll/kv/node");
    const host = await DirectoryKv.open(notes, undefined);
    expect(out).toContain(`notes digest: ${await host.digest("/")}\n`);
    host.close();
  });

  const fails = async (args: string[], message: RegExp) => {
    const run = io(dir);
    expect(await main(args, run)).toBe(2);
    expect(run.stderr.text()).toMatch(message);
    expect(run.stdout.text()).toBe("");
  };

  it("reports a missing directory (exit 2)", () => {
    const { assets } = directories();
    return fails(
      ["run", stores.path, `--kv:assets=${assets}`, "--kv:notes=/nonexistent/notes"],
      /slot "notes": --kv:notes=\/nonexistent\/notes: cannot open the directory \/nonexistent\/notes: ENOENT \[ATOLL_KV_IO\]/,
    );
  });

  it("rejects a missing kv slot, a kv slot attached as a block, and an unknown kv slot", async () => {
    const { assets, notes } = directories();
    await fails(
      ["run", stores.path, `--kv:assets=${assets}`],
      /slot "notes" \(atoll\.kv\.rw\/1\) is not attached: give --kv:notes=DIR/,
    );
    await fails(
      ["run", stores.path, `--kv:assets=${assets}`, `--block:notes=${notes}`],
      /slot "notes" is a key-value slot \(atoll\.kv\.rw\/1\), not a block slot: attach it with --kv:notes=DIR/,
    );
    await fails(
      ["run", stores.path, `--kv:assets=${assets}`, `--kv:notes=${notes}`, `--kv:extra=${notes}`],
      /unknown slot "extra" \(--kv:extra\): stores has slots "console", "assets", "notes"/,
    );
    await fails(
      ["run", stores.path, `--kv:assets=${assets}`, `--kv:console=${notes}`, `--kv:notes=${notes}`],
      /slot "console" is a console slot \(atoll\.console\/1\), which the tender provides itself/,
    );
  });
});
