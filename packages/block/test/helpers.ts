// Connects a Block driver the way applications do: through a unikernel.
import { createUnikernel } from "@atoll/core";
import { Block, type BlockDriver } from "../src/index.js";

export async function connectBlock(d: BlockDriver<{}>, argv: readonly string[] = []) {
  let device!: Block;
  const App = createUnikernel({
    name: "block-test",
    needs: { block: Block },
    start({ block }) {
      device = block;
      return () => {};
    },
  });
  const uk = App({ block: d });
  await uk.start(argv);
  return { block: device, stop: () => uk.stop() };
}

/** A device that forwards to `below`, except for the methods given. */
export function delegate(below: Block, overrides: Partial<Block>): Block {
  return {
    info: () => below.info(),
    read: (s, b) => below.read(s, b),
    write: (s, b) => below.write(s, b),
    flush: () => below.flush(),
    discard: (s, c) => below.discard(s, c),
    ...overrides,
  };
}
