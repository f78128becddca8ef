// @atoll/core/node: the Node.js runner. Reads argv and the environment, prints
// --help, maps errors to exit codes (2 for bad arguments, no stack trace), and
// stops the unikernel cleanly on SIGINT and SIGTERM.

import process from "node:process";
import { wantsHelp } from "./args.js";
import { isAtollError } from "./errors.js";
import type { Unikernel } from "./unikernel.js";

export interface RunMainOptions {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Call process.exit when done (default true). Tests pass false and read the returned code. */
  readonly exit?: boolean;
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
}

/** Runs a unikernel as the process's main program and resolves with its exit code. */
export async function runMain(unikernel: Unikernel, options: RunMainOptions = {}): Promise<number> {
  // `pnpm start -- --x=1` passes the separator through; a leading one carries no meaning.
  const given = options.argv ?? process.argv.slice(2);
  const argv = given[0] === "--" ? given.slice(1) : given;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const finish = (code: number) => {
    if (options.exit !== false) {
      process.exitCode = code;
      process.exit(code);
    }
    return code;
  };

  if (wantsHelp(argv)) {
    stdout.write(unikernel.help());
    return finish(0);
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      stderr.write(`${unikernel.name}: ${signal} again, exiting without a clean stop\n`);
      finish(130);
      return;
    }
    void unikernel.stop().catch((error: unknown) => report(stderr, unikernel.name, error));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    try {
      await unikernel.start(argv, { env: options.env ?? process.env });
    } catch (error) {
      report(stderr, unikernel.name, error);
      return finish(isAtollError(error, "ATOLL_ARG_INVALID") ? 2 : 1);
    }
    if (unikernel.state === "finished") await unikernel.stop();
    const code = await unikernel.exited;
    return finish(code);
  } catch (error) {
    report(stderr, unikernel.name, error);
    return finish(1);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function report(stderr: { write(text: string): unknown }, name: string, error: unknown): void {
  if (isAtollError(error, "ATOLL_ARG_INVALID")) {
    stderr.write(`${name}: ${error.message}\nTry --help for the list of arguments.\n`);
    return;
  }
  if (isAtollError(error)) {
    const cause =
      error.cause instanceof Error && !isAtollError(error.cause) ? `\n${error.cause.stack}` : "";
    stderr.write(`${name}: ${error.message} [${error.code}]${cause}\n`);
    return;
  }
  stderr.write(
    `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
}
