// The built program, as the README's first command runs it: `node
// dist/main.js` prints its URL, serves the embedded site there, and stops
// cleanly on SIGINT. Needs `pnpm build` first (CI builds before testing).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./support/net.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const skipReason = existsSync(MAIN) ? undefined : `${MAIN} is not built (run pnpm build)`;
if (skipReason) console.warn(`skipping the program tests: ${skipReason}`);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function run(args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const printed = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (match) resolve(match);
      };
      child.stdout!.on("data", check);
      child.on("exit", () =>
        reject(new Error(`exited before printing ${pattern}: ${stdout}${stderr}`)),
      );
      check();
    });
  return { child, exited, printed, output: () => stdout + stderr };
}

describe.skipIf(skipReason !== undefined)("node dist/main.js", () => {
  it("prints its URL, serves the embedded site there, and stops on SIGINT", async () => {
    const port = await freePort();
    const p = run([`--port=${port}`]);
    const [, url] = await p.printed(/website: serving (http:\/\/\S+)\n/);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    const home = await fetch(url!);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("You are talking to a <em>unikernel</em>.");
    const status = await (await fetch(`${url}status`)).json();
    expect(status.assets.driver).toBe("kv.static");
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
  });

  it("serves site/ from disk with --dev", async () => {
    const port = await freePort();
    const p = run(["--dev", `--port=${port}`]);
    const [, url] = await p.printed(/website: serving (http:\/\/\S+)\n/);
    const status = await (await fetch(`${url}status`)).json();
    expect(status.assets.driver).toBe("kv.directory-ro");
    expect((await fetch(`${url}inside.html`)).status).toBe(200);
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
  });

  it("rejects an unknown --net with status 2", async () => {
    const p = run(["--net=carrier-pigeon"]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('--net: expected "socket" or "tap"');
  });
});
