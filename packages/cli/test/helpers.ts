// Shared by the tests: build fixtures into a temporary directory, capture output.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { type MonotonicClock, systemMonotonicClock, systemTime, type Time } from "@atoll/clock";
import type { AnyDriver } from "@atoll/core";
import { SeededRandom } from "@atoll/entropy";
import { createDirectStack } from "@atoll/tcpip";
import { buildImage, startImage } from "../src/index.js";
import { joinSwitch } from "../src/tender/switch.js";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
export const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixture/${name}`, import.meta.url));
export const tmp = () => mkdtempSync(path.join(tmpdir(), "atoll-cli-"));

// Named switches of the tests stay among the tests of this file (and the tenders they spawn).
process.env.ATOLL_SWITCH_DIR ??= tmp();

/** Builds an entry the way the monorepo's tests resolve packages: to their TypeScript sources. */
export async function build(entry: string, dir = tmp()) {
  return buildImage({
    entry,
    out: path.join(
      dir,
      `${path.basename(path.dirname(entry))}-${path.basename(entry, ".ts")}.atoll`,
    ),
    conditions: ["@atoll/source"],
    cwd: dir,
  });
}

export class Capture extends Writable {
  readonly chunks: Buffer[] = [];
  isTTY = false;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

export function io(cwd: string) {
  return { stdout: new Capture(), stderr: new Capture(), cwd, env: {}, signals: false } as const;
}

/** Resolves once `what()` holds, checking every `step` ms; throws after `ms`. */
export async function until(what: () => boolean, ms: number, step = 20): Promise<void> {
  for (let waited = 0; !what(); waited += step) {
    if (waited > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, step));
  }
}

const connect = async <T>(d: AnyDriver) =>
  (await d.connect({} as never, {} as never, {} as never)) as T;

/**
 * An image started on the named switch `name` (its slot `netif`), and a direct
 * stack of this process at `clientIpv4` plugged into the same switch.
 */
export async function imageWithClientOnSwitch(
  image: string,
  options: { name: string; argv: string[]; clientIpv4: string; seed: string },
) {
  const out = new Capture();
  const running = await startImage(image, {
    net: { netif: `switch:${options.name}` },
    argv: options.argv,
    stdout: out,
    stderr: out,
  });
  const port = await joinSwitch(options.name);
  const client = createDirectStack(
    {
      netif: port.netif,
      clock: await connect<MonotonicClock>(systemMonotonicClock()),
      time: await connect<Time>(systemTime()),
      random: new SeededRandom(options.seed),
    },
    { ipv4: options.clientIpv4 },
  );
  return {
    out,
    running,
    client,
    async close() {
      await client.close();
      port.close();
      running.stop();
    },
  };
}
