// A layer-2 segment for tests: two TAP netifs opened by this process, their
// Linux sides moved into a fresh network namespace and joined by a bridge
// there. Nothing of it touches the host's own namespace once set up, and
// close() removes all of it.

import { execFileSync, spawnSync } from "node:child_process";
import { openTap, type TapNetif, type TapOptions, tapUnavailableReason } from "../../src/index.js";

function ipMissing(): boolean {
  return spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0;
}

/** Why TAP tests cannot run here, or undefined when they can. */
export const tapSkipReason: string | undefined =
  tapUnavailableReason() ??
  (ipMissing() ? "the ip command (Debian package iproute2) is missing" : undefined);

/** Marks a describe block's tests skipped with a printed reason when TAP is unavailable. */
export function warnIfSkipped(what: string): void {
  if (tapSkipReason !== undefined) console.warn(`skipping ${what}: ${tapSkipReason}`);
}

export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function ipBatch(netns: string, commands: string[]): void {
  execFileSync("ip", ["-netns", netns, "-batch", "-"], {
    input: `${commands.join("\n")}\n`,
    stdio: ["pipe", "ignore", "pipe"],
  });
}

const prefix = "atoll-tap-";
let counter = 0;
let reaped = false;

/** Deletes namespaces left behind by test processes that died before cleaning up. */
function reapStaleNamespaces(): void {
  if (reaped) return;
  reaped = true;
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = new RegExp(`^${prefix}(\\d+)-\\d+$`).exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
  }
}

/** Unique interface names for this process: at<pid>-<n><side>, at most 15 bytes. */
export function uniqueName(side: string): string {
  return `at${process.pid}-${counter++}${side}`.slice(0, 15);
}

export interface Segment {
  readonly a: TapNetif;
  readonly b: TapNetif;
  readonly netns: string;
  close(): void;
}

export interface SegmentOptions {
  readonly a?: Omit<TapOptions, "name">;
  readonly b?: Omit<TapOptions, "name">;
}

export function createSegment(options: SegmentOptions = {}): Segment {
  reapStaleNamespaces();
  const n = counter++;
  const netns = `${prefix}${process.pid}-${n}`;
  ip("netns", "add", netns);
  const opened: TapNetif[] = [];
  try {
    // IPv6 off before the interfaces arrive, so the kernel adds no chatter of its own.
    execFileSync("ip", [
      "netns",
      "exec",
      netns,
      "sh",
      "-c",
      "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
    ]);
    const a = openTap({ ...options.a, name: uniqueName("a") });
    opened.push(a);
    const b = openTap({ ...options.b, name: uniqueName("b") });
    opened.push(b);
    ip("link", "set", a.name, "netns", netns);
    ip("link", "set", b.name, "netns", netns);
    ipBatch(netns, [
      "link add br0 type bridge",
      `link set ${a.name} master br0`,
      `link set ${b.name} master br0`,
      `link set ${a.name} up`,
      `link set ${b.name} up`,
      "link set br0 up",
    ]);
    return {
      a,
      b,
      netns,
      close() {
        a.close();
        b.close();
        spawnSync("ip", ["netns", "del", netns], { stdio: "ignore" });
      },
    };
  } catch (error) {
    for (const netif of opened) netif.close();
    spawnSync("ip", ["netns", "del", netns], { stdio: "ignore" });
    throw error;
  }
}

/** The test EtherType of the conformance suites; everything else on the wire is ignored. */
export const TEST_ETHERTYPE = 0x88b5;

/** A test frame: to `dst`, from `src`, EtherType 0x88B5, `size` bytes in all, payload from `seq`. */
export function testFrame(dst: Uint8Array, src: Uint8Array, size: number, seq: number): Uint8Array {
  const frame = new Uint8Array(size);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = TEST_ETHERTYPE >> 8;
  frame[13] = TEST_ETHERTYPE & 0xff;
  for (let i = 14; i < size; i++) frame[i] = (seq + i) & 0xff;
  if (size >= 18) new DataView(frame.buffer).setUint32(14, seq);
  return frame;
}

/** Collects copies of the test frames a netif receives. */
export function collect(netif: TapNetif): Uint8Array[] {
  const frames: Uint8Array[] = [];
  netif.listen((frame) => {
    if (frame.length >= 14 && ((frame[12]! << 8) | frame[13]!) === TEST_ETHERTYPE)
      frames.push(frame.slice());
  });
  return frames;
}

/** Resolves once `condition` holds, polling every few milliseconds; rejects after `ms`. */
export async function until(
  condition: () => boolean,
  ms = 3000,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets the event loop run for `ms` (to show that something does not happen). */
export function settle(ms = 100): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
