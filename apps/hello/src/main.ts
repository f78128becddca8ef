// Runs hello on Node: stdio console, system time.
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { Hello } from "./unikernel.js";

const { console, time, clock } = nodeDefaults();

await runMain(Hello({ console, time, clock }));
