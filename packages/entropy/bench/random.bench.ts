// Random throughput: Fortuna (host AES and portable AES) next to the host's
// crypto.getRandomValues, for small requests (ISNs, nonces) and bulk fills.
import { compare, opsPerSecond, report } from "@atoll/bench";
import { VirtualTime } from "@atoll/clock";
import { FortunaRandom, nobleAes256Ctr } from "@atoll/entropy";
import { nativeAes256Ctr } from "@atoll/entropy/node";

const clock = new VirtualTime().clock;
const hostAes = new FortunaRandom(clock, { aes: nativeAes256Ctr, bufferSize: 16384 });
const portable = new FortunaRandom(clock, { aes: nobleAes256Ctr });

for (const size of [16, 65536]) {
  const buf = new Uint8Array(size);
  const batch = size === 16 ? 1000 : 4;
  const bytesPerSecond = (fill: (b: Uint8Array) => unknown) => () =>
    opsPerSecond(
      () => {
        for (let i = 0; i < batch; i++) fill(buf);
        return batch * size;
      },
      { ms: 700 },
    ).then((b) => b / 1e6);
  const peer = bytesPerSecond((b) => crypto.getRandomValues(b));
  const native = await compare(
    bytesPerSecond((b) => hostAes.fill(b)),
    peer,
  );
  report({
    suite: "entropy",
    name: `Fortuna (host AES) fill ${size} B`,
    unit: "MB/s",
    higherIsBetter: true,
    atoll: native.atoll,
    peer: native.peer,
    peerName: "crypto.getRandomValues",
    target: ">= 0.5x",
  });
  const js = await compare(
    bytesPerSecond((b) => portable.fill(b)),
    peer,
    { rounds: 1 },
  );
  report({
    suite: "entropy",
    name: `Fortuna (portable AES) fill ${size} B`,
    unit: "MB/s",
    higherIsBetter: true,
    atoll: js.atoll,
    peer: js.peer,
    peerName: "crypto.getRandomValues",
  });
}
