// The README's first quick-start command, run as written from the repository
// root: `npx -y pnpm@10.34.8 start` installs, builds and boots the website on
// the host's sockets; it must print its URL, serve the page there, and stop
// on Ctrl-C. Skipped, with the reason, when port 8080 is taken (the command
// has no other port) or npx is missing.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(new URL("README.md", `file://${root}`), "utf8");
const quickStart = /## Quick start[\s\S]*?```sh\n([^\n]*)/.exec(readme)?.[1] ?? "";
const command = quickStart.replace(/\s+#.*$/, "").trim();

const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
const reason = !(await isFree(8080))
  ? "port 8080 is in use"
  : spawnSync("npx", ["--version"], { stdio: "ignore" }).status !== 0
    ? "npx is missing"
    : undefined;
if (reason) console.warn(`skipping the quick-start test: ${reason}`);

describe("README quick start", () => {
  it("names the command this test runs", () => {
    expect(command).toBe("npx -y pnpm@10.34.8 start");
  });

  it.skipIf(reason !== undefined)(
    "boots the website with its first command and serves it at the URL it prints",
    async () => {
      const [program, ...args] = command.split(/\s+/);
      // Its own process group, so that Ctrl-C reaches pnpm, turbo and node as in a terminal.
      const child = spawn(program!, args, {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => resolve(code)),
      );
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const check = (chunk: Buffer) => {
            output += chunk;
            const match = /website: serving (http:\/\/\S+)/.exec(output);
            if (match) resolve(match[1]!);
          };
          child.stdout!.on("data", check);
          child.stderr!.on("data", check);
          child.on("exit", (code) =>
            reject(new Error(`exited (${code}) before serving:\n${output}`)),
          );
        });
        expect(url).toBe("http://127.0.0.1:8080/");
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain("You are talking to a <em>unikernel</em>.");
      } finally {
        process.kill(-child.pid!, "SIGINT");
      }
      await exited;
      // Ctrl-C stopped the website itself, not only pnpm: the port is free again.
      let free = false;
      for (let i = 0; i < 50 && !free; i++) {
        free = await isFree(8080);
        if (!free) await new Promise((r) => setTimeout(r, 200));
      }
      expect(free).toBe(true);
    },
    300_000,
  );
});
