// switch:NAME across tenders: sealed images in separate `atoll run` processes
// share one Ethernet segment, relayed over a Unix socket by whichever tender
// joined first; when that tender dies, the others elect a new one.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BuildResult } from "../src/index.js";
import { build, fixture, root, tmp, until } from "./helpers.js";

const bin = path.join(root, "packages/cli/bin/atoll.mjs");
const builtCli = existsSync(path.join(root, "packages/cli/dist/cli.js"));
if (!builtCli) console.warn("switch tests skipped: build packages/cli first (pnpm build)");

let dir: string;
let echo: BuildResult;
let client: BuildResult;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = tmp();
  [echo, client] = await Promise.all([
    build(path.join(root, "apps/echo/src/image.ts"), dir),
    build(fixture("apps/echo-client.ts"), dir),
  ]);
});

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

interface Tender {
  readonly child: ChildProcess;
  text(): string;
  readonly exited: Promise<number | null>;
}

function tender(image: string, slot: string, args: string[]): Tender {
  const child = spawn(process.execPath, [bin, "run", image, `--net:netif=${slot}`, "--", ...args], {
    env: { ...process.env, ATOLL_SWITCH_DIR: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let text = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, text: () => text, exited };
}

describe.skipIf(!builtCli)("switch:NAME across atoll run processes", () => {
  it("carries TCP between sealed images of two tenders, and survives the serving tender's death", async () => {
    const sw = "switch:lan";
    const first = tender(echo.path, sw, ["--ipv4=10.9.4.2/24"]);
    await until(() => first.text().includes("echoing"), 15_000, 25);
    // A second tender joins the segment through the first, which serves it.
    const talk = tender(client.path, sw, ["--ipv4=10.9.4.10/24", "--server=10.9.4.2"]);
    expect(await talk.exited).toBe(0);
    expect(talk.text()).toContain("echoed 200000 of 200000 bytes, intact: true");

    // A third tender joins; then the serving one dies without cleaning up.
    const second = tender(echo.path, sw, ["--ipv4=10.9.4.3/24"]);
    await until(() => second.text().includes("echoing"), 15_000, 25);
    first.child.kill("SIGKILL");
    await first.exited;
    // The survivor takes over the segment, and a newcomer reaches it.
    const again = tender(client.path, sw, ["--ipv4=10.9.4.11/24", "--server=10.9.4.3"]);
    expect(await again.exited).toBe(0);
    expect(again.text()).toContain("echoed 200000 of 200000 bytes, intact: true");
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  }, 60_000);
});
