// Kv slots, sealed: an image with a KvRo and a KvRw slot run by `atoll run --kv:SLOT=DIR`
// against real directories, and the attachment errors of kv slots.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { VirtualTime } from "@atoll/clock";
import { MemoryKv } from "@atoll/kv";
import { beforeAll, describe, expect, it } from "vitest";
import * as abi from "../src/abi.js";
import { main } from "../src/cli.js";
import type { BuildResult } from "../src/index.js";
import { RingConsumer, RingProducer } from "../src/ring.js";
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
    expect(blob.length).toBe(1024 * 1024);
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

describe("the kv ring server against forged requests", () => {
  const { KV_REQUEST_HEADER, KV_RESPONSE_HEADER, KvOp, KvStatus } = abi;

  async function serverFor(maxValue: number) {
    const { layoutMemory } = await import("../src/tender/layout.js");
    const { KvServer } = await import("../src/tender/serve.js");
    const layout = layoutMemory(
      [{ kind: "kv", name: "store", signature: "atoll.kv.rw/1", readWrite: true }],
      [],
      0,
      null,
    );
    const memory = new SharedArrayBuffer(layout.memory.length);
    new Uint8Array(memory).set(layout.memory);
    const slot = { ...(layout.boot.slots[0] as Extract<abi.BootSlot, { kind: "kv" }>), maxValue };
    const store = new MemoryKv(new VirtualTime({ epochMs: Date.UTC(2024, 0, 1) }).wallClock);
    const violations: string[] = [];
    const server = new KvServer(slot, store, memory, {
      raise: () => {},
      violation: (m) => void violations.push(m),
      running: true,
    });
    const req = new RingProducer(memory, slot.req);
    const resp = new RingConsumer(memory, slot.resp, KV_RESPONSE_HEADER + slot.maxIo);
    const send = async (header: Uint8Array, body?: Uint8Array) => {
      expect(req.push(header, body)).toBe(true);
      server.serve();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      const answers: Array<{ id: number; status: number; n: number; data: string }> = [];
      resp.drain((e) => {
        const v = new DataView(e.buffer, e.byteOffset, e.length);
        answers.push({
          id: v.getUint32(0, true),
          status: v.getInt32(4, true),
          n: v.getFloat64(8, true),
          data: Buffer.from(e.subarray(KV_RESPONSE_HEADER)).toString("utf8"),
        });
      });
      return answers;
    };
    return { store, violations, send };
  }

  const header = (id: number, op: number, keyLength: number, key2Length = 0, n1 = 0, n2 = 0) => {
    const h = new Uint8Array(KV_REQUEST_HEADER);
    const v = new DataView(h.buffer);
    v.setUint32(0, id, true);
    v.setUint32(4, op, true);
    v.setFloat64(8, n1, true);
    v.setFloat64(16, n2, true);
    v.setUint32(24, keyLength, true);
    v.setUint32(28, key2Length, true);
    return h;
  };
  const bytes = (s: string) => new TextEncoder().encode(s);

  it("answers malformed requests as invalid, counts them, and keeps serving", async () => {
    const { store, violations, send } = await serverFor(1000);
    expect(await send(new Uint8Array(8))).toMatchObject([{ status: KvStatus.invalid }]);
    expect(await send(header(2, 99, 2), bytes("/a"))).toMatchObject([
      { id: 2, status: KvStatus.invalid },
    ]);
    expect(await send(header(3, KvOp.read, 500), bytes("/a"))).toMatchObject([
      { id: 3, status: KvStatus.invalid },
    ]);
    expect(await send(header(4, KvOp.exists, 2), Uint8Array.of(0x2f, 0xff))).toMatchObject([
      { id: 4, status: KvStatus.invalid },
    ]);
    expect(await send(header(5, KvOp.read, 2, 0, -1, 10), bytes("/a"))).toMatchObject([
      { id: 5, status: KvStatus.invalid },
    ]);
    // A malformed key is the store's typed error, not a violation (the image checks keys too).
    expect(await send(header(6, KvOp.exists, 5), bytes("/../x"))).toMatchObject([
      { id: 6, status: KvStatus.invalidKey },
    ]);
    expect(violations).toHaveLength(5);
    // A well-formed request is served after all that.
    await store.set("/a", "hello");
    expect(await send(header(7, KvOp.read, 2, 0, 0, 100), bytes("/a"))).toEqual([
      { id: 7, status: KvStatus.ok, n: 5, data: "hello" },
    ]);
    expect(await send(header(8, KvOp.size, 2), bytes("/b"))).toEqual([
      { id: 8, status: KvStatus.notFound, n: 0, data: "/b" },
    ]);
  });

  it("refuses a set staged past maxValue without writing anything, and sets a staged value whole", async () => {
    const { store, send } = await serverFor(1000);
    expect(await send(header(1, KvOp.stage, 0), new Uint8Array(600).fill(1))).toEqual([]);
    expect(await send(header(1, KvOp.stage, 0), new Uint8Array(600).fill(2))).toEqual([]);
    expect(await send(header(1, KvOp.set, 2), bytes("/v"))).toMatchObject([
      { id: 1, status: KvStatus.tooLarge },
    ]);
    expect(await store.exists("/v")).toBe(undefined);
    expect(await send(header(2, KvOp.stage, 0), new Uint8Array(600).fill(3))).toEqual([]);
    expect(await send(header(2, KvOp.set, 2), Uint8Array.of(...bytes("/v"), 4, 4))).toMatchObject([
      { id: 2, status: KvStatus.ok },
    ]);
    const value = await store.get("/v");
    expect(value.length).toBe(602);
    expect(value[599]).toBe(3);
    expect(value[601]).toBe(4);
  });
});

describe("the kv ring server against stages that never end", () => {
  it("keeps a few requests staging at once, so forged stages neither pile up nor block a later set", async () => {
    const { layoutMemory } = await import("../src/tender/layout.js");
    const { KvServer } = await import("../src/tender/serve.js");
    const { KV_REQUEST_HEADER, KvOp, KvStatus } = abi;
    const layout = layoutMemory(
      [{ kind: "kv", name: "store", signature: "atoll.kv.rw/1", readWrite: true }],
      [],
      0,
      null,
    );
    const memory = new SharedArrayBuffer(layout.memory.length);
    new Uint8Array(memory).set(layout.memory);
    const slot = {
      ...(layout.boot.slots[0] as Extract<abi.BootSlot, { kind: "kv" }>),
      maxValue: 1000,
    };
    const store = new MemoryKv(new VirtualTime({ epochMs: Date.UTC(2024, 0, 1) }).wallClock);
    const violations: string[] = [];
    const server = new KvServer(slot, store, memory, {
      raise: () => {},
      violation: (m) => void violations.push(m),
      running: true,
    });
    const req = new RingProducer(memory, slot.req);
    const resp = new RingConsumer(memory, slot.resp, abi.KV_RESPONSE_HEADER + slot.maxIo);
    const request = (id: number, op: number, body: Uint8Array, keyLength = 0) => {
      const h = new Uint8Array(KV_REQUEST_HEADER);
      const v = new DataView(h.buffer);
      v.setUint32(0, id, true);
      v.setUint32(4, op, true);
      v.setUint32(24, keyLength, true);
      expect(req.push(h, body)).toBe(true);
    };
    const settle = async () => {
      server.serve();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    // A thousand requests each stage a byte, and never come.
    for (let id = 1; id <= 1000; id++) {
      request(id, KvOp.stage, Uint8Array.of(1));
      if (id % 100 === 0) await settle();
    }
    await settle();
    expect(violations.length).toBeGreaterThan(0);
    expect(violations[0]).toMatch(/kv slot "store": stages of more than \d+ requests at once/);
    // A request staging 600 bytes and setting them still fits under maxValue.
    request(5000, KvOp.stage, new Uint8Array(600).fill(9));
    request(5000, KvOp.set, new TextEncoder().encode("/v"), 2);
    await settle();
    const statuses: number[] = [];
    resp.drain((e) => void statuses.push(new DataView(e.buffer, e.byteOffset).getInt32(4, true)));
    expect(statuses).toEqual([KvStatus.ok]);
    expect((await store.get("/v")).length).toBe(600);
  });
});

describe("the image's kv device bounds what it sends", () => {
  it("refuses an overlong key and an oversized value before anything crosses", async () => {
    const { machineHarness } = await import("./harness.js");
    const { kvSlot } = await import("../src/image/devices.js");
    const host = new MemoryKv(new VirtualTime({ epochMs: Date.UTC(2024, 0, 1) }).wallClock);
    const h = machineHarness(
      [{ kind: "kv", name: "store", signature: "atoll.kv.rw/1", readWrite: true }],
      { kv: { store: host } },
    );
    try {
      const kv = (await h.connect(kvSlot(h.boot.slots[0]!, h.machine))) as import("@atoll/kv").KvRw;
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: { code?: string }) => e.code,
        );
      expect(await code(kv.set(`/${"k".repeat(5000)}`, "x"))).toBe("ATOLL_KV_INVALID_KEY");
      expect(await code(kv.allocate("/huge", 65 * 1024 * 1024))).toBe("ATOLL_KV_NO_SPACE");
      expect(await host.list("/")).toEqual([]);
      // A key of many multi-byte characters within the limit crosses, and a 1 MiB value in 17 messages.
      const key = `/${"é".repeat(1000)}`;
      const value = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
      await kv.set(key, value);
      expect((await host.get(key)).every((b, i) => b === i % 251)).toBe(true);
      expect((await kv.get(key)).every((b, i) => b === i % 251)).toBe(true);
    } finally {
      h.close();
    }
  });
});
