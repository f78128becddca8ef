// Exclusive access to an image file, so two unikernels cannot open one image
// read-write. Node has no flock(), so without native code there are two ways:
//
//  - "socket" (Linux, the default there): bind a Unix socket in the abstract
//    namespace named after the file's device and inode. The kernel allows one
//    binding per name and drops it when the process dies, so there is no stale
//    lock and no race. Limits: Linux only; processes in different network
//    namespaces (containers) do not see each other's names; not across hosts.
//  - "file" (elsewhere): create `<image>.lock` with O_EXCL holding the owner's
//    PID and host name. A lock whose owner is gone (same host, PID not running)
//    is stale and broken. Limits: a recycled PID keeps a stale lock alive until
//    that process exits; breaking a stale lock has a narrow race between two
//    processes doing it at the same instant; over NFS only the host check helps.
//
// Block devices opened read-write also use O_EXCL, which Linux turns into an
// exclusive claim on the device (EBUSY while mounted or claimed).

import { promises as fsp } from "node:fs";
import net from "node:net";
import os from "node:os";
import process from "node:process";
import { BlockIoError, BlockLockedError } from "./errors.js";

export type LockMode = "auto" | "socket" | "file" | "none";

export interface ImageLock {
  readonly kind: "socket" | "file" | "none";
  release(): Promise<void>;
}

export interface FileIdentity {
  readonly dev: number | bigint;
  readonly ino: number | bigint;
}

export async function acquireImageLock(
  path: string,
  id: FileIdentity,
  mode: LockMode,
): Promise<ImageLock> {
  if (mode === "none") return { kind: "none", release: async () => {} };
  const kind = mode === "auto" ? (process.platform === "linux" ? "socket" : "file") : mode;
  return kind === "socket" ? socketLock(path, id) : fileLock(path);
}

// ---- abstract socket --------------------------------------------------------------------------

function socketLock(path: string, id: FileIdentity): Promise<ImageLock> {
  const name = `\0atoll.block.lock/${id.dev}:${id.ino}`;
  return new Promise((resolve, reject) => {
    const server = net.createServer((peer) => {
      // Whoever asks learns who holds the image, for its error message.
      peer.end(`pid ${process.pid}\n`);
    });
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EADDRINUSE") {
        reject(new BlockIoError(`cannot lock ${path}: ${error.message}`, { cause: error }));
        return;
      }
      void askHolder(name).then((holder) => reject(new BlockLockedError(path, holder)));
    });
    server.listen({ path: name, exclusive: true }, () => {
      server.unref();
      resolve({
        kind: "socket",
        release: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

function askHolder(name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const socket = net.connect({ path: name });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const line = text.split("\n")[0]?.trim();
      resolve(line ? `another process (${line})` : "another process");
    };
    const timer = setTimeout(finish, 500);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", finish);
    socket.on("error", finish);
  });
}

// ---- lock file --------------------------------------------------------------------------------

async function fileLock(path: string): Promise<ImageLock> {
  const lockPath = `${path}.lock`;
  const mine = `${process.pid}\n${os.hostname()}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fsp.writeFile(lockPath, mine, { flag: "wx", mode: 0o644 });
      return {
        kind: "file",
        async release() {
          const now = await fsp.readFile(lockPath, "utf8").catch(() => undefined);
          if (now === mine) await fsp.unlink(lockPath).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new BlockIoError(`cannot create the lock file ${lockPath}: ${String(error)}`, {
          cause: error,
        });
      }
    }
    const held = await fsp.readFile(lockPath, "utf8").catch(() => undefined);
    if (held === undefined) continue; // released meanwhile: try again
    const [pidText, host] = held.split("\n");
    const pid = Number(pidText);
    const holder = `pid ${pidText} on ${host || "an unknown host"} (${lockPath})`;
    if (host !== os.hostname() || !Number.isSafeInteger(pid) || pid <= 0 || isRunning(pid)) {
      throw new BlockLockedError(path, holder);
    }
    // Stale: move it aside under a unique name, and only delete it if it is the one we judged.
    const aside = `${lockPath}.stale-${process.pid}-${attempt}`;
    try {
      await fsp.rename(lockPath, aside);
    } catch {
      continue; // someone else broke it first
    }
    const moved = await fsp.readFile(aside, "utf8").catch(() => undefined);
    if (moved === held) {
      await fsp.unlink(aside).catch(() => {});
    } else {
      // We moved a fresh lock that replaced the stale one: put it back if the name is free.
      await fsp.link(aside, lockPath).catch(() => {});
      await fsp.unlink(aside).catch(() => {});
    }
  }
  throw new BlockLockedError(path, `a process that keeps changing ${lockPath}`);
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
