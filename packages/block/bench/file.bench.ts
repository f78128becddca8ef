// The file driver next to plain `fs` positional I/O on the same file, in the
// same run: sequential and random 4 KiB reads and writes, one request at a
// time. The peer is fs.read/fs.write on a file descriptor of the same file —
// what the driver itself does, minus checks and bookkeeping — so the ratio is
// the driver's overhead. Target: >= 0.8x.
import fs, { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { report } from "@atoll/bench";
import { FileBlock } from "@atoll/block/node";

const FILE_BYTES = 64 * 1024 * 1024;
const IO = 4096;
const dir = mkdtempSync(path.join(tmpdir(), "atoll-block-bench-"));
const image = path.join(dir, "bench.img");
fs.writeFileSync(image, new Uint8Array(FILE_BYTES).fill(0x5a));

const block = await FileBlock.open(image, { sectorSize: 512, lock: "none" });
const fd = fs.openSync(image, "r+");
const slots = FILE_BYTES / IO;

// The same offsets for both sides: sequential, and a fixed pseudo-random sequence.
let seed = 0x2545f491;
const randomSlots = Uint32Array.from({ length: 1 << 16 }, () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % slots;
});

const buf = new Uint8Array(IO).fill(7);
const peerRead = (pos: number) =>
  new Promise<void>((resolve, reject) =>
    fs.read(fd, buf, 0, IO, pos, (e) => (e ? reject(e) : resolve())),
  );
const peerWrite = (pos: number) =>
  new Promise<void>((resolve, reject) =>
    fs.write(fd, buf, 0, IO, pos, (e) => (e ? reject(e) : resolve())),
  );

const BATCH = 32;

/**
 * Runs batches of Atoll and peer operations alternately, so that both see the
 * same noise on a shared machine, and returns each side's ops/s from the
 * median batch time.
 */
async function interleaved(
  atoll: (slot: number) => Promise<void>,
  peer: (slot: number) => Promise<void>,
  random: boolean,
  batches = 120,
) {
  const times = { atoll: [] as number[], peer: [] as number[] };
  let i = 0;
  const batch = async (op: (slot: number) => Promise<void>, start: number) => {
    const t = performance.now();
    for (let k = 0; k < BATCH; k++) {
      const n = start + k;
      await op(random ? randomSlots[n & 0xffff]! : n % slots);
    }
    return performance.now() - t;
  };
  for (let b = 0; b < 40; b++) {
    await batch(atoll, i);
    await batch(peer, i);
  }
  for (let b = 0; b < batches; b++) {
    // Same offsets for both sides, in alternating order.
    if (b % 2 === 0) {
      times.atoll.push(await batch(atoll, i));
      times.peer.push(await batch(peer, i));
    } else {
      times.peer.push(await batch(peer, i));
      times.atoll.push(await batch(atoll, i));
    }
    i += BATCH;
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { atoll: (BATCH * 1000) / median(times.atoll), peer: (BATCH * 1000) / median(times.peer) };
}

for (const [name, random] of [
  ["sequential", false],
  ["random", true],
] as const) {
  for (const kind of ["read", "write"] as const) {
    const result =
      kind === "read"
        ? await interleaved(
            (slot) => block.read((slot * IO) / 512, buf),
            (slot) => peerRead(slot * IO),
            random,
          )
        : await interleaved(
            (slot) => block.write((slot * IO) / 512, buf),
            (slot) => peerWrite(slot * IO),
            random,
          );
    report({
      suite: "block",
      name: `file driver, ${name} 4 KiB ${kind}s (QD1)`,
      unit: "ops/s",
      higherIsBetter: true,
      atoll: result.atoll,
      peer: result.peer,
      peerName: "fs.read/fs.write, same file",
      target: ">= 0.8x",
    });
  }
}

await block.close();
fs.closeSync(fd);
rmSync(dir, { recursive: true, force: true });
