import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryDisk, memoryBlock, readOnly } from "@atoll/block";
import { logKv } from "@atoll/kv";
import { simDefaults } from "@atoll/platform";
import { afterAll, describe, expect, it } from "vitest";
import { BlockCheck } from "../src/block-check.js";
import { Notes } from "../src/notes.js";

const tmp = mkdtempSync(path.join(tmpdir(), "atoll-storage-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One run of notes on `disk`, under virtual time; returns what it printed. */
async function notes(disk: MemoryDisk, argv: string[], at = Date.UTC(2024, 4, 1, 12)) {
  const sim = simDefaults(1, { time: { epochMs: at } });
  const uk = Notes({ ...sim.bindings, notes: logKv(), block: memoryBlock({ disk }) });
  await sim.world.run(uk.start(argv));
  await uk.stop();
  return sim.console.text();
}

describe("notes", () => {
  it("adds, lists and deletes notes across restarts", async () => {
    const disk = new MemoryDisk({ sectorCount: 2048 });
    expect(await notes(disk, [])).toBe("no notes\n");
    expect(await notes(disk, ["--add=buy milk"])).toBe("added note 1\n");
    expect(await notes(disk, ["--add", "call mom"], Date.UTC(2024, 4, 2, 9, 30))).toBe(
      "added note 2\n",
    );
    expect(await notes(disk, ["--list"])).toBe(
      "   1  2024-05-01 12:00  buy milk\n   2  2024-05-02 09:30  call mom\n",
    );
    expect(await notes(disk, ["--delete=1", "--list"])).toBe(
      "deleted note 1\n   2  2024-05-02 09:30  call mom\n",
    );
    expect(await notes(disk, ["--delete=1"])).toBe("no note 1\n");
    expect(await notes(disk, ["--add=third"])).toBe("added note 3\n");
  });

  it("keeps its notes through a crash: each change is flushed before it is reported", async () => {
    const disk = new MemoryDisk({ sectorCount: 2048 });
    await notes(disk, ["--add=survives"]);
    // Lose power right after the run: the clone is the disk as the crash leaves it.
    const crashed = disk.clone();
    expect(await notes(crashed, [])).toContain("survives");
  });

  it("runs as a program on a file-backed image, across processes", () => {
    const image = path.join(tmp, "notes.img");
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const run = (...args: string[]) => {
      const r = spawnSync(
        process.execPath,
        ["--conditions=@atoll/source", "--import", "tsx", main, `--path=${image}`, ...args],
        { cwd: fileURLToPath(new URL("..", import.meta.url)), encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout;
    };
    expect(run("--add=first note")).toBe("added note 1\n");
    expect(statSync(image).size).toBe(4 * 1024 * 1024);
    expect(run("--add=second note")).toBe("added note 2\n");
    expect(run("--delete=1")).toBe("deleted note 1\n");
    expect(run()).toMatch(/^ {3}2 {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}second note\n$/);
  });
});

describe("block-check", () => {
  it("writes, reads back and compares sectors, and sees a read past the end refused", async () => {
    const sim = simDefaults(7);
    const uk = BlockCheck({ ...sim.bindings, disk: memoryBlock({ sectorCount: 4096 }) });
    await sim.world.run(uk.start(["--sectors=100"]));
    await uk.stop();
    expect(sim.console.text()).toMatch(
      /^4096 sectors of 512 bytes \(read-write\)\nall \d+ sectors verified; a read past the end was refused\n$/,
    );
  });

  it("only reports the geometry of a read-only device", async () => {
    const sim = simDefaults(7);
    const uk = BlockCheck({ ...sim.bindings, disk: readOnly(memoryBlock({ sectorCount: 64 })) });
    await sim.world.run(uk.start([]));
    await uk.stop();
    expect(sim.console.text()).toBe("64 sectors of 512 bytes (read-only)\n");
  });
});
