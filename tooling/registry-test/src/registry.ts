// A throwaway npm registry: verdaccio on 127.0.0.1, its configuration,
// storage and user database in a temporary directory. Packages matching
// `local` (Atoll's, the test's own driver) live only here: they are never
// looked up upstream, so nothing can shadow them. Everything else is proxied
// to the upstream registry (typescript, vitest and the like).

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import { progress } from "./run.js";

export interface LocalRegistry {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** An npmrc with this registry and a token allowed to publish to it. */
  readonly userconfig: string;
  /** An npmrc with this registry and no credentials, as a consumer has. */
  readonly consumerUserconfig: string;
  /** The registry's log (verdaccio's stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** A directory of its own (created). */
  readonly dir: string;
  /** The registry to proxy for everything not local. */
  readonly upstream: string;
  /** Package name patterns served only from this registry (`@atoll/*`). */
  readonly local: readonly string[];
}

const require = createRequire(import.meta.url);

export async function startRegistry(options: RegistryOptions): Promise<LocalRegistry> {
  mkdirSync(options.dir, { recursive: true });
  const config = path.join(options.dir, "config.yaml");
  writeFileSync(config, verdaccioConfig(options));
  const bin = path.join(
    path.dirname(require.resolve("verdaccio/package.json")),
    "bin",
    "verdaccio",
  );

  // The port is free when chosen; another process may take it before verdaccio binds, so retry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const child = spawn(
      process.execPath,
      [bin, "--config", config, "--listen", `127.0.0.1:${port}`],
      {
        cwd: options.dir,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let log = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (log += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (log += s));
    const up = await waitUntilUp(url, child, 90_000);
    if (!up) {
      await kill(child);
      if (attempt < 3 && /EADDRINUSE/.test(log)) continue;
      throw new Error(`verdaccio did not start:\n${log}`);
    }
    progress(`verdaccio ${url} (storage in ${options.dir})`);
    const token = await addUser(url);
    const host = `//127.0.0.1:${port}/`;
    const userconfig = path.join(options.dir, "publisher.npmrc");
    writeFileSync(userconfig, `registry=${url}\n${host}:_authToken=${token}\n`);
    const consumerUserconfig = path.join(options.dir, "consumer.npmrc");
    writeFileSync(consumerUserconfig, `registry=${url}\n`);
    return {
      url,
      userconfig,
      consumerUserconfig,
      log: () => log,
      stop: () => kill(child),
    };
  }
}

function verdaccioConfig({ dir, upstream, local }: RegistryOptions): string {
  const packages = [
    ...local.map((pattern) =>
      [`  '${pattern}':`, "    access: $all", "    publish: $authenticated"].join("\n"),
    ),
    ["  '**':", "    access: $all", "    publish: $authenticated", "    proxy: upstream"].join(
      "\n",
    ),
  ];
  return [
    `storage: ${JSON.stringify(path.join(dir, "storage"))}`,
    "auth:",
    "  htpasswd:",
    `    file: ${JSON.stringify(path.join(dir, "htpasswd"))}`,
    "    max_users: 10",
    // JWT tokens: verdaccio checks a signature per request instead of hashing a password.
    "security:",
    "  api:",
    "    jwt:",
    "      sign:",
    "        expiresIn: 1d",
    "uplinks:",
    "  upstream:",
    `    url: ${JSON.stringify(upstream)}`,
    "    timeout: 60s",
    "    max_fails: 5",
    "packages:",
    ...packages,
    "web:",
    "  enable: false",
    "log: { type: stdout, format: pretty, level: warn }",
    "",
  ].join("\n");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const response = await fetch(new URL("-/ping", url), { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** Registers a user the way `npm adduser` does and returns its token. */
async function addUser(url: string): Promise<string> {
  const name = "atoll-release";
  const response = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password: "registry-test-only", type: "user", roles: [] }),
  });
  const body = (await response.json()) as { token?: string; error?: string };
  if (!response.ok || !body.token)
    throw new Error(`verdaccio refused the user: ${body.error ?? response.status}`);
  return body.token;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
