// hello: the first unikernel. It needs a Console and Time, nothing else, and
// prints a greeting a few times, one second apart (MirageOS's hello world).

import { Time } from "@atoll/clock";
import { Console } from "@atoll/console";
import { arg, createUnikernel, seconds } from "@atoll/core";

export const Hello = createUnikernel({
  name: "hello",
  description: "prints a greeting, one second apart",
  needs: { console: Console, time: Time },
  args: {
    hello: arg.string({ default: "Hello World!", doc: "the greeting to print", env: "HELLO" }),
    times: arg.int({ default: 4, min: 0, max: 1_000_000, doc: "how many times to print it" }),
  },
  async start({ console, time }, { hello, times }, { signal }) {
    for (let i = 0; i < times; i++) {
      if (i > 0) await time.sleep(seconds(1), signal);
      console.write(`${hello}\n`);
    }
  },
});
