import { VirtualTime } from "@atoll/clock";
import { createUnikernel, isAtollError } from "@atoll/core";
import { seededRandom } from "@atoll/entropy";
import { MemorySwitch } from "@atoll/netif";
import { describe, expect, it } from "vitest";
import { Stack } from "../src/signature.js";
import { direct } from "../src/stack.js";

const Show = createUnikernel({
  name: "show",
  needs: { stack: Stack },
  async start({ stack }) {
    shown = stack.ipv4.config();
  },
});
let shown: unknown;

function bind(options: Parameters<typeof direct>[0] = {}) {
  const world = new VirtualTime();
  return Show({
    stack: direct(options),
    netif: new MemorySwitch().port(),
    clock: world.monotonic(),
    time: world.time(),
    random: seededRandom(1),
  });
}

describe("direct() driver", () => {
  it("takes --ipv4 and --ipv4-gateway", async () => {
    const uk = bind();
    await uk.start(["--ipv4=192.168.7.9/24", "--ipv4-gateway=192.168.7.1"]);
    await uk.stop();
    expect(shown).toEqual({ address: "192.168.7.9", prefixLength: 24, gateway: "192.168.7.1" });
  });

  it("falls back to the options, and lets the arguments override them", async () => {
    const uk = bind({ ipv4: "10.1.0.2/16", gateway: "10.1.0.1" });
    await uk.start([]);
    await uk.stop();
    expect(shown).toEqual({ address: "10.1.0.2", prefixLength: 16, gateway: "10.1.0.1" });
    const again = bind({ ipv4: "10.1.0.2/16" });
    await again.start(["--ipv4=10.9.0.2/8"]);
    await again.stop();
    expect(shown).toEqual({ address: "10.9.0.2", prefixLength: 8, gateway: undefined });
  });

  it("rejects a malformed address, naming the argument", async () => {
    const error = await bind()
      .start(["--ipv4=10.0.0.2"])
      .catch((e: unknown) => e);
    expect(isAtollError(error, "ATOLL_ARG_INVALID")).toBe(true);
    expect(String((error as Error).message)).toContain("--ipv4");
    const missing = await bind()
      .start([])
      .catch((e: unknown) => e);
    expect(isAtollError(missing, "ATOLL_ARG_INVALID")).toBe(true);
  });

  it("documents its arguments in --help", () => {
    const help = bind().help();
    expect(help).toContain("--ipv4=CIDR");
    expect(help).toContain("ATOLL_IPV4");
    expect(help).toContain("--ipv4-gateway=IPV4");
  });
});
