// The built program, as the README runs it: `node dist/main.js` on the socket
// stack, and `--net=tap` inside a network namespace (the README's static
// recipe, root only) with Linux's nc on the other end. Needs `pnpm build`
// first (CI builds before testing); skipped with the reason otherwise.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { tapUnavailableReason } from "@atoll/netif-tap";
import { afterEach, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const built = existsSync(MAIN) ? undefined : `${MAIN} is not built (run pnpm build)`;
if (built) console.warn(`skipping echo's program tests: ${built}`);
const tapReason =
  built ??
  tapUnavailableReason() ??
  (spawnSync("nc", ["-h"], { stdio: "ignore" }).error === undefined
    ? undefined
    : "nc is missing (apt-get install netcat-openbsd)");
if (tapReason) console.warn(`skipping echo on TAP: ${tapReason}`);

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function start(
  command: string,
  args: string[],
): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  cleanups.push(() => child.kill("SIGKILL"));
  return { child, exited, output: () => output };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Sends `text` over TCP and resolves with what comes back before the peer closes; retries while refused. */
async function echoOver(
  port: number,
  text: string,
  deadline = Date.now() + 20_000,
): Promise<string> {
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let back = "";
        socket.on("data", (d) => {
          back += d;
          if (back.length >= text.length) socket.end();
        });
        socket.on("error", reject);
        socket.on("close", () => resolve(back));
        socket.on("connect", () => socket.write(text));
      });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.skipIf(built !== undefined)("node dist/main.js", () => {
  it("echoes TCP on the socket stack and stops with status 0 on SIGINT", async () => {
    const port = await freePort();
    const p = start(process.execPath, [MAIN, `--port=${port}`, "--bind=127.0.0.1"]);
    expect(await echoOver(port, "hello, echo\n")).toBe("hello, echo\n");
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
  });

  it("rejects an unknown --net with status 2", async () => {
    const p = start(process.execPath, [MAIN, "--net=carrier-pigeon"]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('--net: expected "socket" or "tap"');
  });
});

describe.skipIf(tapReason !== undefined)("node dist/main.js --net=tap, in a namespace", () => {
  it("answers ping and nc from Linux, as the README's static recipe runs it", async () => {
    const ns = `atoll-echo-t${process.pid}`;
    const link = `atecho${process.pid % 100_000}`;
    execFileSync("ip", ["netns", "add", ns]);
    cleanups.push(() => spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" }));
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    const p = start("ip", [
      "netns",
      "exec",
      ns,
      process.execPath,
      MAIN,
      "--net=tap",
      `--tap=${link}`,
      "--ipv4=10.79.0.2/24",
      "--port=7",
    ]);
    // echo creates the TAP device in the namespace; then Linux's side gets its address.
    const until = Date.now() + 30_000;
    while (spawnSync("ip", ["-n", ns, "link", "show", link], { stdio: "ignore" }).status !== 0) {
      if (Date.now() > until || p.child.exitCode !== null)
        throw new Error(`no ${link}: ${p.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    execFileSync("ip", ["-n", ns, "addr", "add", "10.79.0.1/24", "dev", link]);
    execFileSync("ip", ["-n", ns, "link", "set", link, "up"]);
    const inNs = (args: string[], input?: string) =>
      execFileSync("ip", ["netns", "exec", ns, ...args], {
        encoding: "utf8",
        input,
        timeout: 20_000,
      });
    expect(inNs(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.79.0.2"])).toContain("3 received");
    expect(inNs(["nc", "-N", "-w", "5", "10.79.0.2", "7"], "hello over TAP\n")).toBe(
      "hello over TAP\n",
    );
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
  }, 60_000);
});
