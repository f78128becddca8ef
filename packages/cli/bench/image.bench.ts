// Sealed images: hello's image size (minified and gzipped), and cold start —
// `atoll run` from spawn to the application's first line, next to `node`
// running the same application in-process; plus the tender's own start-up
// (worker, realm, image) measured inside one process, next to the in-process
// unikernel's start.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { compare, medianMs, report } from "@atoll/bench";
import { systemTime } from "@atoll/clock";
import { stdio } from "@atoll/console/node";
import { Hello } from "../../../apps/hello/src/unikernel.js";
import { buildImage, parseImage, startImage } from "../src/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "atoll-bench-"));
const built = await buildImage({
  entry: path.join(root, "apps/hello/src/unikernel.ts"),
  out: path.join(dir, "hello.atoll"),
  cwd: dir,
});
const parsed = parseImage(readFileSync(built.path, "utf8"));
if ("kind" in parsed) throw new Error(parsed.message);
const code = Buffer.byteLength(parsed.code);
const gzip = gzipSync(parsed.code, { level: 9 }).length;
report({
  suite: "cli",
  name: "hello image, minified (code)",
  unit: "KB",
  higherIsBetter: false,
  atoll: code / 1000,
  peer: null,
  peerName: null,
  target: "< 10 KB",
});
report({
  suite: "cli",
  name: "hello image, gzipped (code)",
  unit: "KB",
  higherIsBetter: false,
  atoll: gzip / 1000,
  peer: null,
  peerName: null,
  target: "< 10 KB",
});
report({
  suite: "cli",
  name: "hello image file, gzipped",
  unit: "KB",
  higherIsBetter: false,
  atoll: built.gzipBytes / 1000,
  peer: null,
  peerName: null,
  note: "manifest included",
});

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
  () => medianMs(sealed, { samples: 9, warmup: 2 }),
  () => medianMs(node, { samples: 9, warmup: 2 }),
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
const started = await compare(
  () => medianMs(inTender, { samples: 15, warmup: 3 }),
  () => medianMs(inProcess, { samples: 15, warmup: 3 }),
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
