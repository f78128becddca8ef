// Web Streams over a Flow's read/write/shutdown, for any Flow implementation.
// Pull-based in both directions, so the streams add no buffering of their
// own: backpressure is the Flow's.

import type { Flow } from "./signature.js";

/** A ReadableStream that pulls from `flow.read()`; closes at end of stream, errors as read does. */
export function flowReadable(flow: Pick<Flow, "read">): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await flow.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A WritableStream whose writes are `flow.write`, close is `shutdown` and abort is `abort`. */
export function flowWritable(
  flow: Pick<Flow, "write" | "shutdown" | "abort">,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>(
    {
      write: (chunk) => flow.write(chunk),
      close: () => flow.shutdown(),
      abort: () => flow.abort(),
    },
    { highWaterMark: 1 },
  );
}
