import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { typecheckSnippets } from "@atoll/checks/typecheck";
import { simDefaults } from "@atoll/platform";
import { describe, expect, it } from "vitest";
import { Hello } from "../src/unikernel.js";

describe("hello", () => {
  it("prints the greeting four times, one second apart, under virtual time", async () => {
    const sim = simDefaults(1);
    const stamps: number[] = [];
    const uk = Hello({ ...sim.bindings });
    const started = uk.start([]);
    // Record when each line appears on the virtual clock.
    const original = sim.console.write.bind(sim.console);
    sim.console.write = (data) => {
      stamps.push(sim.world.now());
      original(data);
    };
    await sim.world.run(started);
    await uk.stop();
    expect(sim.console.text()).toBe("Hello World!\n".repeat(4));
    expect(stamps).toEqual([0, 1e9, 2e9, 3e9]);
  });

  it("takes --hello and --times", async () => {
    const sim = simDefaults(1);
    const uk = Hello(sim.bindings);
    await sim.world.run(uk.start(["--hello=Bonjour", "--times=2"]));
    await uk.stop();
    expect(sim.console.text()).toBe("Bonjour\nBonjour\n");
    expect(sim.world.now()).toBe(1e9);
  });

  it("lists its arguments and its drivers' in --help", () => {
    const sim = simDefaults(1);
    const help = Hello(sim.bindings).help();
    expect(help).toContain("--hello=TEXT");
    expect(help).toContain("--times=N");
    expect(help).toContain("--log=LEVELS");
  });

  it("stops in the middle of its sleeps when asked", async () => {
    const sim = simDefaults(1);
    const uk = Hello(sim.bindings);
    const started = uk.start(["--times=1000"]);
    await sim.world.advance(2.5e9);
    void uk.stop();
    await expect(sim.world.run(started)).rejects.toMatchObject({ code: "ATOLL_ABORTED" });
    expect(sim.console.text()).toBe("Hello World!\n".repeat(3));
  });

  it("fails to type-check, naming the device, when main.ts loses its time binding", () => {
    const dir = fileURLToPath(new URL("..", import.meta.url));
    const main = readFileSync(new URL("../src/main.ts", import.meta.url), "utf8");
    const withoutTime = main.replace(
      "Hello({ console, time, clock })",
      "Hello({ console, clock })",
    );
    expect(withoutTime).not.toBe(main);
    const results = typecheckSnippets(dir, {
      "src/main.ts": main,
      "src/__main_without_time__.ts": withoutTime,
    });
    expect(results["src/main.ts"]).toEqual([]);
    expect(results["src/__main_without_time__.ts"]!.join("\n")).toMatch(
      /Property 'time' is missing/,
    );
  });
});
