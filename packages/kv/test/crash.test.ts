// The crash test of the log store: a randomized workload runs on a crashSim
// device; at every write the device issues, power is lost in several ways
// (every unflushed write lost, a prefix kept, a random subset kept, sectors
// torn). Each resulting image must open cleanly, without repair, and hold
// exactly the state after some prefix of the operations that includes every
// operation acknowledged by a flush. A sample of the recovered stores keeps
// working and crashes a second time. The memory store is the reference model.

import {
  applySurvivors,
  CrashSimBlock,
  MemoryBlock,
  MemoryDisk,
  randomCrashPlan,
  survivingWrites,
} from "@atoll/block";
import { VirtualTime } from "@atoll/clock";
import { isAtollError } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { describe, expect, it } from "vitest";
import { LogKv, MemoryKv } from "../src/index.js";
import type { KvRw } from "../src/signature.js";
import { dumpLog } from "./debug-dump.js";

type State = Map<string, Uint8Array>;

async function snapshot(kv: KvRw): Promise<State> {
  const out: State = new Map();
  const walk = async (key: string) => {
    for (const e of await kv.list(key)) {
      if (e.kind === "value") out.set(e.key, await kv.get(e.key));
      else await walk(e.key);
    }
  };
  await walk("/");
  return out;
}

function sameState(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || w.length !== v.length) return false;
    for (let i = 0; i < v.length; i++) if (v[i] !== w[i]) return false;
  }
  return true;
}

const dirs = ["p", "q"];
const leaves = ["a", "b", "c", "d", "e", "f"];

/** One random operation, applied to the store and the model alike. */
async function randomOp(
  random: SeededRandom,
  store: KvRw,
  model: KvRw,
): Promise<"flush" | "change"> {
  // Mostly /p/a or /q/s/b; now and then a key that collides with a dictionary or a value.
  const key = () => {
    const roll = random.int(20);
    const dir = dirs[random.int(dirs.length)]!;
    const leaf = leaves[random.int(leaves.length)]!;
    if (roll === 0) return `/${dir}`;
    if (roll === 1) return `/${dir}/${leaf}/x`;
    return roll < 14 ? `/${dir}/${leaf}` : `/${dir}/s/${leaf}`;
  };
  const value = () => {
    const roll = random.int(20);
    const size =
      roll < 14 ? random.int(120) : roll < 19 ? 200 + random.int(1500) : 3000 + random.int(4000);
    const bytes = random.bytes(size);
    return bytes;
  };
  const roll = random.int(100);
  let run: (kv: KvRw) => Promise<void>;
  if (roll < 18) {
    await store.flush();
    return "flush";
  } else if (roll < 65) {
    const k = key();
    const v = value();
    run = (kv) => kv.set(k, v);
  } else if (roll < 75) {
    const k = random.int(6) === 0 ? `/${dirs[random.int(2)]}/s` : key();
    run = (kv) => kv.remove(k);
  } else if (roll < 83) {
    const [s, d] = [key(), random.int(5) === 0 ? `/${dirs[random.int(2)]}` : key()];
    run = (kv) => kv.rename(s, d);
  } else if (roll < 93) {
    const [k, off, v] = [key(), random.int(200), random.bytes(random.int(300))];
    run = (kv) => kv.setPartial(k, off, v);
  } else {
    const [k, size] = [key(), random.int(600)];
    run = (kv) => kv.allocate(k, size, 1_000_000);
  }
  const outcome = await run(store).then(
    () => "ok",
    (e: unknown) => (isAtollError(e) ? e.code : Promise.reject(e)),
  );
  if (outcome === "ATOLL_KV_NO_SPACE") return "change"; // the model is not asked: nothing changed
  const expected = await run(model).then(
    () => "ok",
    (e: unknown) => (isAtollError(e) ? e.code : Promise.reject(e)),
  );
  if (outcome !== expected) throw new Error(`store said ${outcome}, the model ${expected}`);
  return "change";
}

interface Totals {
  writePoints: number;
  crashStates: number;
  reopenedAndWritten: number;
  doubleCrashes: number;
  compactions: number;
}

async function crashCampaign(seed: number, ops: number, totals: Totals): Promise<void> {
  const world = new VirtualTime();
  const random = new SeededRandom(`crash-${seed}`);
  const disk = new MemoryDisk({ sectorCount: 120 });
  const sim = new CrashSimBlock(new MemoryBlock(disk));
  const model = new MemoryKv(world.wallClock);
  const states: State[] = [new Map()]; // states[j]: after the first j changes
  let acknowledged = 0; // changes made durable by a flush that resolved
  let inProgress = 0; // index of the change being made
  const queue: Array<{ image: MemoryDisk; from: number; to: number; label: string }> = [];

  sim.onWrite = () => {
    totals.writePoints++;
    for (let variant = 0; variant < 3; variant++) {
      const plan =
        variant === 0
          ? { keep: "none" as const }
          : randomCrashPlan(random, sim.pending, { torn: variant === 2 });
      const image = disk.clone();
      applySurvivors(image, survivingWrites(sim.pending, plan));
      queue.push({
        image,
        from: acknowledged,
        to: inProgress + 1,
        label: `seed ${seed}, write ${sim.writeCount - 1}, plan ${plan.keep}${variant === 2 ? " (torn)" : ""}`,
      });
    }
  };

  const verify = async () => {
    while (queue.length > 0) {
      const { image, from, to, label } = queue.shift()!;
      totals.crashStates++;
      let store: LogKv;
      try {
        store = await LogKv.open(new MemoryBlock(image), world.wallClock);
      } catch (error) {
        throw new Error(`${label}: the store did not reopen cleanly: ${String(error)}`, {
          cause: error,
        });
      }
      const got = await snapshot(store);
      let match = -1;
      for (let j = Math.min(to, states.length - 1); j >= from; j--) {
        if (sameState(states[j]!, got)) {
          match = j;
          break;
        }
      }
      if (match < 0) {
        throw new Error(
          `${label}: recovered ${got.size} values matching no state between change ${from} (acknowledged) and ${to}`,
        );
      }
      // A sample keeps working after recovery and survives a second crash.
      if (totals.crashStates % 20 === 0)
        await afterRecovery(store, image, got, label, world, random, totals);
    }
  };

  const store = await LogKv.open(sim, world.wallClock);
  await verify();
  for (let i = 0; i < ops; i++) {
    inProgress = states.length - 1;
    const kind = await randomOp(random, store, model);
    if (kind === "flush") acknowledged = states.length - 1;
    else {
      const after = await snapshot(model);
      if (!sameState(after, states.at(-1)!)) states.push(after);
    }
    await verify();
  }
  totals.compactions += store.stats().compactions;
}

/** Writes more to a recovered store, crashes it again, and checks the second recovery. */
async function afterRecovery(
  recovered: LogKv,
  image: MemoryDisk,
  state: State,
  label: string,
  world: VirtualTime,
  random: SeededRandom,
  totals: Totals,
) {
  await recovered.close();
  const sim = new CrashSimBlock(new MemoryBlock(image));
  const store = await LogKv.open(sim, world.wallClock);
  const model = new MemoryKv(world.wallClock);
  for (const [k, v] of state) await model.set(k, v);
  const states: State[] = [state];
  let acknowledged = 0;
  const steps = 4 + random.int(12);
  for (let i = 0; i < steps; i++) {
    if ((await randomOp(random, store, model)) === "flush") acknowledged = states.length - 1;
    else states.push(await snapshot(model));
  }
  const durable = image.clone();
  applySurvivors(
    durable,
    survivingWrites(sim.pending, randomCrashPlan(random, sim.pending, { torn: true })),
  );
  const again = await LogKv.open(new MemoryBlock(durable), world.wallClock).catch(
    (error: unknown) => {
      if (process.env.ATOLL_DUMP_LOG)
        console.log(`BEFORE:\n${dumpLog(image)}\nAFTER:\n${dumpLog(durable)}`);
      throw new Error(`${label}, second crash: the store did not reopen cleanly: ${String(error)}`);
    },
  );
  const got = await snapshot(again);
  const ok = states.slice(acknowledged).some((s) => sameState(s, got));
  if (!ok) throw new Error(`${label}, second crash: recovered state is not an allowed prefix`);
  // And it still takes writes that survive a clean close.
  await again.set("/after/crash", "alive");
  await again.close();
  const last = await LogKv.open(new MemoryBlock(durable), world.wallClock);
  expect(new TextDecoder().decode(await last.get("/after/crash"))).toBe("alive");
  totals.doubleCrashes++;
  totals.reopenedAndWritten++;
}

describe("log store crash safety", () => {
  it("formats again after a format that lost power, torn anywhere", async () => {
    const world = new VirtualTime();
    for (let tear = 0; tear <= 512; tear += 8) {
      const disk = new MemoryDisk({ sectorCount: 64 });
      const sim = new CrashSimBlock(new MemoryBlock(disk));
      let image: MemoryDisk | undefined;
      sim.onWrite = () => {
        image ??= disk.clone();
        applySurvivors(
          image,
          survivingWrites(sim.pending, {
            keep: "subset",
            choose: (_w, i) => (i === 0 ? tear : false),
          }),
        );
      };
      await LogKv.open(sim, world.wallClock);
      const store = await LogKv.open(new MemoryBlock(image!), world.wallClock);
      expect(await store.list("/")).toEqual([]);
      await store.set("/x", "1");
    }
  });

  it("recovers an acknowledged prefix at every write point of a randomized workload", async () => {
    const totals: Totals = {
      writePoints: 0,
      crashStates: 0,
      reopenedAndWritten: 0,
      doubleCrashes: 0,
      compactions: 0,
    };
    const seeds = [1, 2, 3];
    for (const seed of seeds) await crashCampaign(seed, 700, totals);
    console.info(
      `log store crash test: ${totals.writePoints} write points, ${totals.crashStates} crash states reopened and checked, ` +
        `${totals.doubleCrashes} second crashes after recovery, ${totals.compactions} compactions (seeds ${seeds.join(", ")})`,
    );
    expect(totals.crashStates).toBeGreaterThan(1000);
    expect(totals.compactions).toBeGreaterThan(3);
  });
});
