// @atoll/console: the Console signature, with memory and browser drivers.
// The stdio driver is in @atoll/console/node.

export { type BrowserConsoleOptions, browserConsole } from "./browser.js";
export { ConsoleInputBusyError, lines } from "./input.js";
export { MemoryConsole, type MemoryConsoleOptions, memoryConsole } from "./memory.js";
export { Console } from "./signature.js";
