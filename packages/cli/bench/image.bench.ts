// Sealed images: the sizes of hello, echo (Atoll's TCP/IP inside) and, once
// it exists, website (TCP/IP and HTTP inside, its assets excluded), minified
// and gzipped; and cold start —
// `atoll run` from spawn to the application's first line, next to `node`
// running the same application in-process; plus the tender's own start-up
// (worker, realm, image) measured inside one process, next to the in-process
// unikernel's start.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { compare, report } from "@atoll/bench";
import { systemTime } from "@atoll/clock";
import { stdio } from "@atoll/console/node";
import { Hello } from "../../../apps/hello/src/unikernel.js";
import { buildImage, parseImage, prestartVcpu, startImage } from "../src/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "atoll-bench-"));
const built = await buildImage({
  entry: path.join(root, "apps/hello/src/unikernel.ts"),
  out: path.join(dir, "hello.atoll"),
  cwd: dir,
});
const parsed = parseImage(readFileSync(built.path, "utf8"));
if ("kind" in parsed) throw new Error(parsed.message);

/** Minified and gzipped size of an image's code (the manifest excluded), in KB. */
function sizes(code: string) {
  return { code: Buffer.byteLength(code) / 1000, gzip: gzipSync(code, { level: 9 }).length / 1000 };
}
const images: Array<{ name: string; entry: string; target: string; note?: string }> = [
  { name: "hello", entry: "apps/hello/src/unikernel.ts", target: "< 10 KB" },
  {
    name: "echo",
    entry: "apps/echo/src/image.ts",
    target: "< 80 KB",
    note: "Atoll's TCP/IP inside",
  },
  {
    name: "website",
    entry: "apps/website/src/image.ts",
    target: "< 150 KB",
    note: "TCP/IP and HTTP inside, assets excluded",
  },
];
for (const { name, entry, target, note } of images) {
  if (!existsSync(path.join(root, entry))) {
    console.warn(`cli bench: ${entry} does not exist yet; its image size is not measured`);
    continue;
  }
  const image =
    name === "hello"
      ? built
      : await buildImage({
          entry: path.join(root, entry),
          out: path.join(dir, `${name}.atoll`),
          cwd: dir,
        });
  const text = readFileSync(image.path, "utf8");
  const p = parseImage(text);
  if ("kind" in p) throw new Error(p.message);
  // The website's assets ride in the image as data: what its code weighs is measured without them.
  const code = name === "website" ? withoutAssets(p.code) : p.code;
  const { code: min, gzip } = sizes(code);
  for (const [what, value] of [
    ["minified", min],
    ["gzipped", gzip],
  ] as const)
    report({
      suite: "cli",
      name: `${name} image, ${what} (code)`,
      unit: "KB",
      higherIsBetter: false,
      atoll: value,
      peer: null,
      peerName: null,
      ...(what === "gzipped" ? { target } : {}),
      ...(note === undefined ? {} : { note }),
    });
  report({
    suite: "cli",
    name: `${name} image file, gzipped`,
    unit: "KB",
    higherIsBetter: false,
    atoll: image.gzipBytes / 1000,
    peer: null,
    peerName: null,
    note: "manifest included",
  });
}

/**
 * The website image's code without its embedded assets: each file of the
 * static store (`[key, mtime, sha256, base64]`) keeps its key and hash, not its contents.
 */
function withoutAssets(code: string): string {
  return code.replace(/(\["\/[^"]*",\d+,"[0-9a-f]{64}",)"[A-Za-z0-9+/=]*"\]/g, '$1""]');
}

/** The median of what `fn` returns (a time it measured itself), after warm-up runs. */
async function median(fn: () => Promise<number>, { samples = 9, warmup = 2 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const values: number[] = [];
  for (let i = 0; i < samples; i++) values.push(await fn());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

/** Spawn to first line of stdout, in ms. */
const firstLine = (args: string[]) => async () => {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
  const first = await new Promise<number>((resolve) =>
    child.stdout.once("data", () => resolve(performance.now() - started)),
  );
  await new Promise((resolve) => child.once("exit", resolve));
  return first;
};
const bin = path.join(root, "packages/cli/bin/atoll.mjs");
const sealed = firstLine([bin, "run", built.path, "--", "--times=1"]);
const node = firstLine([path.join(root, "apps/hello/dist/main.js"), "--times=1"]);
const spawned = await compare(
  () => median(sealed, { samples: 9, warmup: 2 }),
  () => median(node, { samples: 9, warmup: 2 }),
  { rounds: 3, higherIsBetter: false },
);
report({
  suite: "cli",
  name: "cold start to first line (process)",
  unit: "ms",
  higherIsBetter: false,
  atoll: spawned.atoll,
  peer: spawned.peer,
  peerName: "node running hello in-process",
  target: "< 50 ms over node",
});

class FirstWrite extends Writable {
  resolve: (() => void) | undefined;
  override _write(_c: unknown, _e: BufferEncoding, callback: () => void): void {
    this.resolve?.();
    this.resolve = undefined;
    callback();
  }
}
const inTender = async () => {
  const out = new FirstWrite();
  const started = performance.now();
  const first = new Promise<number>(
    (resolve) => (out.resolve = () => resolve(performance.now() - started)),
  );
  const running = await startImage(parsed.manifest.name === "hello" ? built.path : "", {
    argv: ["--times=1"],
    stdout: out,
  });
  const t = await first;
  await running.done;
  return t;
};
const inProcess = async () => {
  const out = new FirstWrite();
  const started = performance.now();
  const first = new Promise<number>(
    (resolve) => (out.resolve = () => resolve(performance.now() - started)),
  );
  const uk = Hello({ console: stdio({ stdout: out }), time: systemTime() });
  await uk.start(["--times=1"]);
  const t = await first;
  await uk.stop();
  return t;
};
// A program that starts images on demand can keep a vCPU thread ready (prestartVcpu):
// then an image's start is the tender's own work, without Node's thread start-up.
const warm = async () => {
  const vcpu = prestartVcpu();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const out = new FirstWrite();
  const started = performance.now();
  const first = new Promise<number>(
    (resolve) => (out.resolve = () => resolve(performance.now() - started)),
  );
  const running = await startImage(built.path, {
    argv: ["--times=1"],
    stdout: out,
    ...(vcpu === undefined ? {} : { vcpu }),
  });
  const t = await first;
  await running.done;
  return t;
};
const warmed = await compare(
  () => median(warm, { samples: 9, warmup: 2 }),
  () => median(inProcess, { samples: 15, warmup: 3 }),
  { rounds: 3, higherIsBetter: false },
);
report({
  suite: "cli",
  name: "start to first line, in one process, thread pre-started",
  unit: "ms",
  higherIsBetter: false,
  atoll: warmed.atoll,
  peer: warmed.peer,
  peerName: "hello bound to stdio in-process",
  target: "sealed < 50 ms",
});

const started = await compare(
  () => median(inTender, { samples: 15, warmup: 3 }),
  () => median(inProcess, { samples: 15, warmup: 3 }),
  { rounds: 3, higherIsBetter: false },
);
report({
  suite: "cli",
  name: "start to first line, in one process",
  unit: "ms",
  higherIsBetter: false,
  atoll: started.atoll,
  peer: started.peer,
  peerName: "hello bound to stdio in-process",
  target: "sealed < 50 ms",
});
