// Raw-bytes helpers: talk to a server over a flow pair the way a hostile or
// careful client would, and read back exactly what it sent.

import type { Flow } from "@atoll/tcpip";
import { createHttpServer, type FetchHandler, type HttpServerOptions } from "../../src/index.js";
import { flowPair, type PipeOptions } from "./flow-pair.js";

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** A string of code units 0-255 as bytes, one per unit. */
export const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Reads a Flow to its end (or reset) and returns everything as latin1 text. */
export async function readAll(flow: Flow): Promise<string> {
  let text = "";
  try {
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      for (const b of chunk) text += String.fromCharCode(b);
    }
  } catch {}
  return text;
}

export interface RawExchange {
  /** Everything the server wrote until it closed. */
  readonly output: string;
  readonly served: Promise<void>;
}

/**
 * Sends `input` (split into the given pieces) to a fresh server connection,
 * half-closes unless told not to, and returns the server's whole output.
 */
export async function rawExchange(
  handler: FetchHandler,
  input: string | Uint8Array | Array<string | Uint8Array>,
  options: HttpServerOptions & { pipe?: PipeOptions; keepOpen?: boolean } = {},
): Promise<string> {
  const server = createHttpServer(handler, options);
  const [client, serverSide] = flowPair(options.pipe);
  const served = server.handleFlow(serverSide);
  const output = readAll(client);
  const pieces = Array.isArray(input) ? input : [input];
  for (const piece of pieces) {
    try {
      await client.write(typeof piece === "string" ? latin1Bytes(piece) : piece);
    } catch {
      break;
    }
  }
  if (!options.keepOpen) await client.shutdown().catch(() => {});
  const text = await output;
  await served;
  return text;
}

/** Splits a message into responses by status line. */
export function statusLines(output: string): string[] {
  return output.match(/HTTP\/1\.1 \d{3}[^\r\n]*/g) ?? [];
}
