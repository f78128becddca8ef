import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { blockConformance } from "../src/conformance.js";
import { FileBlock, fileBlock } from "../src/node.js";
import { connectBlock } from "./helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "atoll-block-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (bytes = 256 * 512) => {
  const p = path.join(dir, `image-${n++}.img`);
  writeFileSync(p, new Uint8Array(bytes));
  return p;
};

blockConformance({
  name: "file driver",
  async setup() {
    const p = fresh();
    let current = await connectBlock(fileBlock({ path: p }));
    return {
      get block() {
        return current.block;
      },
      disconnect: () => current.stop(),
      async reopen() {
        await current.stop();
        current = await connectBlock(fileBlock(), [`--path=${p}`]);
        return current.block;
      },
      stop: () => current.stop(),
    };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "file driver, 4 KiB sectors, lock file",
  async setup() {
    const c = await connectBlock(
      fileBlock({ path: fresh(80 * 4096), sectorSize: 4096, lock: "file" }),
    );
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

blockConformance({
  name: "file driver, read-only",
  async setup() {
    const c = await connectBlock(fileBlock({ path: fresh(), readOnly: true }));
    return { block: c.block, disconnect: c.stop, stop: c.stop };
  },
  teardown: (h) => h.stop(),
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("file driver", () => {
  it("creates a sparse image of the requested size and reports its geometry", async () => {
    const p = path.join(dir, "created.img");
    const block = await FileBlock.open(p, { createSize: 1 << 20 });
    expect(statSync(p).size).toBe(1 << 20);
    expect(block.info()).toMatchObject({ sectorSize: 512, sectorCount: 2048, kind: "file" });
    await block.close();
  });

  it("ignores a trailing partial sector", async () => {
    const block = await FileBlock.open(fresh(10 * 512 + 100), { readOnly: true });
    expect(block.info().sectorCount).toBe(10);
    await block.close();
  });

  it("writes where fs expects, byte for byte", async () => {
    const p = fresh(16 * 512);
    const block = await FileBlock.open(p);
    await block.write(3, [new Uint8Array(512).fill(7), new Uint8Array(1024).fill(8)]);
    await block.flush();
    await block.close();
    const bytes = readFileSync(p);
    expect([
      bytes[3 * 512 - 1],
      bytes[3 * 512],
      bytes[4 * 512],
      bytes[6 * 512 - 1],
      bytes[6 * 512],
    ]).toEqual([0, 7, 8, 8, 0]);
  });

  it("reports missing files and directories as typed errors", async () => {
    expect(await code(FileBlock.open(path.join(dir, "missing.img")))).toBe("ATOLL_BLOCK_IO");
    expect(await code(FileBlock.open(dir, { readOnly: true }))).toBe("ATOLL_BLOCK_CONFIG");
    expect(await code(FileBlock.open(fresh(), { sectorSize: 1000 }))).toBe("ATOLL_BLOCK_CONFIG");
  });

  for (const lock of ["socket", "file"] as const) {
    it(`refuses a second read-write open in the same process (${lock} lock)`, async () => {
      const p = fresh();
      const first = await FileBlock.open(p, { lock });
      expect(first.info().lock).toBe(lock);
      expect(await code(FileBlock.open(p, { lock }))).toBe("ATOLL_BLOCK_LOCKED");
      const reader = await FileBlock.open(p, { readOnly: true });
      await reader.close();
      await first.close();
      const again = await FileBlock.open(p, { lock });
      await again.close();
    });
  }

  it("locks the file itself, whatever path reaches it", async () => {
    const p = fresh();
    const first = await FileBlock.open(p);
    const other = path.join(dir, "..", path.basename(dir), ".", path.basename(p));
    expect(await code(FileBlock.open(other))).toBe("ATOLL_BLOCK_LOCKED");
    await first.close();
  });

  it("breaks a stale lock file whose owner is gone, but not a live one", async () => {
    const p = fresh();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    const host = (await import("node:os")).hostname();
    writeFileSync(`${p}.lock`, `${dead.stdout.toString()}\n${host}\n`);
    const block = await FileBlock.open(p, { lock: "file" });
    expect(readFileSync(`${p}.lock`, "utf8")).toBe(`${process.pid}\n${host}\n`);
    await block.close();
    writeFileSync(`${p}.lock`, `1\n${host}\n`); // init: alive
    expect(await code(FileBlock.open(p, { lock: "file" }))).toBe("ATOLL_BLOCK_LOCKED");
    writeFileSync(`${p}.lock`, `${dead.stdout.toString()}\nanother-host\n`);
    expect(await code(FileBlock.open(p, { lock: "file" }))).toBe("ATOLL_BLOCK_LOCKED");
  });

  const holder = (image: string, lock?: string) =>
    new Promise<{ child: ChildProcess; line: string }>((resolve, reject) => {
      const script = fileURLToPath(new URL("./fixtures/hold-image.ts", import.meta.url));
      const child = spawn(
        process.execPath,
        ["--conditions=@atoll/source", "--import", "tsx", script, image, ...(lock ? [lock] : [])],
        {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("\n")) resolve({ child, line: out.trim() });
      });
      child.once("error", reject);
      child.once("exit", () => resolve({ child, line: out.trim() }));
    });

  for (const lock of ["socket", "file"] as const) {
    it(`keeps a second process out while the first holds the image (${lock} lock)`, async () => {
      const p = fresh();
      const first = await holder(p, lock);
      try {
        expect(first.line).toBe("ready");
        const error = await FileBlock.open(p, { lock }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: "ATOLL_BLOCK_LOCKED" });
        expect(String((error as Error).message)).toContain(String(first.child.pid));
        // And the other way round: a process cannot take an image this one holds.
        const mine = fresh();
        const block = await FileBlock.open(mine, { lock });
        const second = await holder(mine, lock);
        expect(second.line).toBe("ATOLL_BLOCK_LOCKED");
        await block.close();
      } finally {
        first.child.kill("SIGKILL");
        await new Promise((r) => first.child.once("exit", r));
      }
      // The holder died without cleaning up: the lock must not outlive it.
      const after = await FileBlock.open(p, { lock });
      await after.close();
    });
  }

  it("opens a Linux block device through a loop device", async (ctx) => {
    const image = fresh(2048 * 512);
    const setup = spawnSync("losetup", ["--find", "--show", image], { encoding: "utf8" });
    const device = setup.stdout.trim();
    if (setup.status !== 0 || device === "") {
      console.warn(
        `skipped: cannot attach a loop device (${setup.stderr.trim() || "losetup failed"})`,
      );
      ctx.skip();
      return;
    }
    try {
      const block = await FileBlock.open(device);
      expect(block.info()).toMatchObject({ kind: "device", sectorCount: 2048 });
      await block.write(5, new Uint8Array(512).fill(4));
      await block.flush();
      expect(await code(FileBlock.open(device))).toBe("ATOLL_BLOCK_IO"); // O_EXCL: EBUSY
      await block.close();
      expect(readFileSync(image)[5 * 512]).toBe(4);
    } finally {
      spawnSync("losetup", ["--detach", device]);
    }
  });
});
