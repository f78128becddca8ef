// KV get/set throughput of the log store and the tar store, both on the file
// block driver, next to the same work done with plain files: one file per
// key, fs.promises.writeFile/readFile in a directory on the same disk. Values
// are 1 KiB, over 1000 keys; requests one at a time. Batches of each side
// alternate so both see the same noise.
import { promises as fsp, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { report } from "@atoll/bench";
import { FileBlock } from "@atoll/block/node";
import { VirtualTime } from "@atoll/clock";
import { type KvRw, LogKv, TarKv } from "@atoll/kv";

const dir = mkdtempSync(path.join(tmpdir(), "atoll-kv-bench-"));
const KEYS = 1000;
const value = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
const clock = new VirtualTime().wallClock;

const peerDir = path.join(dir, "files");
mkdirSync(peerDir);
const peer = {
  set: (i: number) => fsp.writeFile(path.join(peerDir, `k${i}`), value),
  get: (i: number) => fsp.readFile(path.join(peerDir, `k${i}`)),
  async setDurable(i: number) {
    const handle = await fsp.open(path.join(peerDir, `k${i}`), "w");
    await handle.writeFile(value);
    await handle.datasync();
    await handle.close();
  },
};

async function image(name: string) {
  const file = path.join(dir, name);
  writeFileSync(file, new Uint8Array(0));
  await fsp.truncate(file, 64 * 1024 * 1024);
  return FileBlock.open(file, { lock: "none" });
}

const BATCH = 50;
async function interleaved(
  atoll: (i: number) => Promise<unknown>,
  other: (i: number) => Promise<unknown>,
  batches = 60,
) {
  const times = { atoll: [] as number[], peer: [] as number[] };
  let i = 0;
  const batch = async (op: (i: number) => Promise<unknown>, start: number) => {
    const t = performance.now();
    for (let k = 0; k < BATCH; k++) await op((start + k) % KEYS);
    return performance.now() - t;
  };
  for (let b = 0; b < 20; b++) {
    await batch(atoll, i);
    await batch(other, i);
    i += BATCH;
  }
  for (let b = 0; b < batches; b++) {
    if (b % 2 === 0) {
      times.atoll.push(await batch(atoll, i));
      times.peer.push(await batch(other, i));
    } else {
      times.peer.push(await batch(other, i));
      times.atoll.push(await batch(atoll, i));
    }
    i += BATCH;
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { atoll: (BATCH * 1000) / median(times.atoll), peer: (BATCH * 1000) / median(times.peer) };
}

for (let i = 0; i < KEYS; i++) await peer.set(i);

async function measure(store: string, kv: KvRw) {
  for (let i = 0; i < KEYS; i++) await kv.set(`/bench/k${i}`, value);
  await kv.flush();
  const rows = [
    [
      "set",
      (i: number) => kv.set(`/bench/k${i}`, value),
      peer.set,
      "fs.promises.writeFile, a file per key",
    ],
    [
      "get",
      (i: number) => kv.get(`/bench/k${i}`),
      peer.get,
      "fs.promises.readFile, a file per key",
    ],
    [
      "set + flush (durable)",
      async (i: number) => {
        await kv.set(`/bench/k${i}`, value);
        await kv.flush();
      },
      peer.setDurable,
      "writeFile + fdatasync, a file per key",
    ],
  ] as const;
  for (const [name, atoll, other, peerName] of rows) {
    const result = await interleaved(atoll, other, name.includes("flush") ? 20 : 60);
    report({
      suite: "kv",
      name: `${store} on the file driver: ${name}, 1 KiB values`,
      unit: "ops/s",
      higherIsBetter: true,
      atoll: result.atoll,
      peer: result.peer,
      peerName,
    });
  }
}

const logBlock = await image("log.img");
const log = await LogKv.open(logBlock, clock);
await measure("log store", log);
await log.close();
await logBlock.close();

const tarBlock = await image("tar.img");
const tar = await TarKv.open(tarBlock, clock);
await measure("tar store", tar);
await tar.flush();
await tarBlock.close();

rmSync(dir, { recursive: true, force: true });
