// The boundary's throughput penalty: apps/echo sealed (the tender serving its
// network slot from a TAP device) next to the same echo running in-process on
// the same kind of TAP device, each echoing 100 MB sent by Linux's TCP (nc in
// a network namespace). Both are driven the same way and alternate, so the
// ratio survives the machine's noise. Needs root (TAP devices, namespaces):
// skipped with the reason otherwise.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { compare, report } from "@atoll/bench";
import { driver } from "@atoll/core";
import { Netif } from "@atoll/netif";
import { openTap } from "@atoll/netif-tap";
import { nodeDefaults } from "@atoll/platform/node";
import { direct } from "@atoll/tcpip";
import { Echo } from "../../../apps/echo/src/unikernel.js";
import { buildImage, startImage } from "../src/index.js";
import { echoTransfer, Netns, tapUnavailable, uniqueName } from "../test/netns.js";

const BYTES = Number(process.env.ATOLL_BENCH_ECHO_BYTES ?? 100e6);
const reason = await tapUnavailable(["nc"]);
if (reason !== undefined) {
  console.warn(`cli throughput bench skipped: ${reason}`);
  process.exit(0);
}

const root = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "atoll-bench-"));
const image = await buildImage({
  entry: path.join(root, "apps/echo/src/image.ts"),
  out: path.join(dir, "echo.atoll"),
  cwd: dir,
});

class Sink extends Writable {
  text = "";
  override _write(chunk: Buffer, _e: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

const until = async (what: () => boolean) => {
  for (let i = 0; !what(); i++) {
    if (i > 500) throw new Error("echo did not start");
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** One transfer through echo on a fresh TAP link; returns MB/s of echoed payload. */
async function transfer(sealed: boolean): Promise<number> {
  const ns = await Netns.create();
  const ifname = uniqueName("ab");
  const out = new Sink();
  let stop: () => Promise<unknown>;
  if (sealed) {
    const running = await startImage(image.path, {
      net: { netif: `tap:${ifname}` },
      argv: ["--ipv4=10.9.2.2/24", "--port=7"],
      stdout: out,
      stderr: out,
    });
    stop = async () => {
      running.stop();
      await running.done;
    };
  } else {
    const netif = openTap({ name: ifname });
    const { clock, time, random } = nodeDefaults();
    const uk = Echo({ stack: direct(), netif: netifDriver(netif), clock, time, random });
    await uk.start(["--ipv4=10.9.2.2/24", "--port=7"], { logSink: (line) => out.write(line) });
    stop = async () => {
      await uk.stop();
      netif.close();
    };
  }
  try {
    await ns.adopt(ifname, "10.9.2.1/24");
    await until(() => out.text.includes("echoing"));
    const t = await echoTransfer(ns, "10.9.2.2", 7, BYTES);
    if (t.receivedSha256 !== t.sentSha256 || t.receivedBytes !== BYTES)
      throw new Error(
        `${sealed ? "sealed" : "in-process"} echo lost data: ${t.receivedBytes}/${BYTES}`,
      );
    return BYTES / 1e6 / (t.ms / 1000);
  } finally {
    await stop();
    await ns.close();
  }
}

/** A driver handing over an already-open TAP netif (the bench opens it itself, as the tender does). */
function netifDriver(netif: ReturnType<typeof openTap>) {
  return driver({ name: "netif.tap-open", provides: Netif, connect: () => netif });
}

const result = await compare(
  () => transfer(true),
  () => transfer(false),
  { rounds: Number(process.env.ATOLL_BENCH_ROUNDS ?? 2), higherIsBetter: true },
);
report({
  suite: "cli",
  name: `echo over TAP, ${BYTES / 1e6} MB each way (sealed)`,
  unit: "MB/s",
  higherIsBetter: true,
  atoll: result.atoll,
  peer: result.peer,
  peerName: "the same echo in-process",
  target: ">= 0.7x",
});
