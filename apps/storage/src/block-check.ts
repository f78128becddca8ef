// block-check: after MirageOS's block example. Prints the device's geometry,
// writes seeded random data to sectors spread over the device, flushes, reads
// it back and compares, and checks that the device refuses a request past its
// end. It overwrites the sectors it tests: run it on a scratch image.

import { Block } from "@atoll/block";
import { Console } from "@atoll/console";
import { arg, createUnikernel, isAtollError } from "@atoll/core";
import { Random } from "@atoll/entropy";

export const BlockCheck = createUnikernel({
  name: "block-check",
  description: "writes, flushes, reads back and compares sectors of a block device",
  needs: { console: Console, disk: Block, random: Random },
  args: {
    sectors: arg.int({ default: 64, min: 1, max: 1_000_000, doc: "how many sectors to test" }),
  },
  async start({ console, disk, random }, { sectors }, { exit }) {
    const { sectorSize, sectorCount, readWrite } = disk.info();
    console.write(
      `${sectorCount} sectors of ${sectorSize} bytes (${readWrite ? "read-write" : "read-only"})\n`,
    );
    if (!readWrite) return;
    const count = Math.min(sectors, sectorCount);
    const chosen = [...new Set(Array.from({ length: count }, () => random.int(sectorCount)))];
    const written = new Map<number, Uint8Array>();
    for (const sector of chosen) {
      const data = random.bytes(sectorSize);
      await disk.write(sector, data);
      written.set(sector, data);
    }
    await disk.flush();
    let bad = 0;
    const back = new Uint8Array(sectorSize);
    for (const [sector, data] of written) {
      await disk.read(sector, back);
      if (back.some((b, i) => b !== data[i])) {
        bad++;
        console.write(`sector ${sector}: read back differs\n`);
      }
    }
    const refused = await disk.read(sectorCount, back).then(
      () => false,
      (e: unknown) => isAtollError(e, "ATOLL_BLOCK_OUT_OF_RANGE"),
    );
    console.write(
      bad === 0
        ? `all ${written.size} sectors verified; a read past the end was ${refused ? "refused" : "NOT refused"}\n`
        : `${bad} of ${written.size} sectors differ\n`,
    );
    if (bad > 0 || !refused) exit(1);
  },
});
