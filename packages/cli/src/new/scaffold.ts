// `atoll new`: writes a unikernel project or a driver package from templates.
// The projects stand alone (no monorepo presets): TypeScript, vitest, and the
// published @atoll packages.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AtollError } from "@atoll/core";

/** The scaffold cannot be written (bad name, unknown signature, directory not empty). */
export class ScaffoldError extends AtollError {
  constructor(message: string) {
    super("ATOLL_SCAFFOLD", message);
  }
}

export interface Scaffolded {
  readonly dir: string;
  /** Written files, relative to dir. */
  readonly files: readonly string[];
}

const ATOLL_RANGE = "^0.1.0";
const versions = {
  typescript: "5.9.3",
  vitest: "4.1.12",
  "@types/node": "20.19.43",
  tsx: "4.23.15",
};

const camel = (name: string) => name.replace(/[-_.](\w)/g, (_, c: string) => c.toUpperCase());
const pascal = (name: string) => camel(name).replace(/^\w/, (c) => c.toUpperCase());

function checkName(name: string): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new ScaffoldError(
      `"${name}" is not a usable name: lower-case letters, digits and dashes, starting with a letter`,
    );
}

function write(dir: string, files: Record<string, string>): Scaffolded {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ScaffoldError(`${dir} exists and is not empty; choose another name or --dir`);
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return { dir, files: Object.keys(files) };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

const tsconfig = json({
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023", "DOM"],
    module: "ESNext",
    moduleResolution: "Bundler",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["src", "test"],
});

export interface AppOptions {
  readonly name: string;
  readonly dir: string;
}

/** A unikernel project: the application, a Node entry, an image entry and a test under virtual time. */
export function scaffoldApp({ name, dir }: AppOptions): Scaffolded {
  checkName(name);
  const App = pascal(name);
  return write(dir, {
    "package.json": json({
      name,
      version: "0.1.0",
      private: true,
      type: "module",
      description: `${name}: an Atoll unikernel`,
      engines: { node: ">=20" },
      scripts: {
        start: "tsx src/main.ts",
        test: "vitest run",
        typecheck: "tsc --noEmit",
        image: `atoll build src/unikernel.ts --out dist/${name}.atoll`,
        sealed: `atoll run dist/${name}.atoll`,
      },
      dependencies: {
        "@atoll/clock": ATOLL_RANGE,
        "@atoll/console": ATOLL_RANGE,
        "@atoll/core": ATOLL_RANGE,
        "@atoll/platform": ATOLL_RANGE,
      },
      devDependencies: {
        "@atoll/cli": ATOLL_RANGE,
        "@types/node": versions["@types/node"],
        tsx: versions.tsx,
        typescript: versions.typescript,
        vitest: versions.vitest,
      },
    }),
    "tsconfig.json": tsconfig,
    "src/unikernel.ts": `// ${name}: the application, a functor over the devices it needs. It runs the
// same on Node (src/main.ts), under virtual time in tests, and sealed
// (\`npm run image && npm run sealed\`).

import { Time } from "@atoll/clock";
import { Console } from "@atoll/console";
import { arg, createUnikernel, seconds } from "@atoll/core";

export const ${App} = createUnikernel({
  name: "${name}",
  description: "counts down, one second apart",
  needs: { console: Console, time: Time },
  args: {
    from: arg.int({ default: 3, min: 0, max: 3600, doc: "where to start" }),
  },
  async start({ console, time }, { from }, { signal }) {
    for (let n = from; n > 0; n--) {
      console.write(\`\${n}…\\n\`);
      await time.sleep(seconds(1), signal);
    }
    console.write("liftoff\\n");
  },
});
`,
    "src/main.ts": `// Runs ${name} on Node: stdio console, system time.
import { nodeDefaults, runMain } from "@atoll/platform/node";
import { ${App} } from "./unikernel.js";

const { console, time } = nodeDefaults();
await runMain(${App}({ console, time }));
`,
    "test/unikernel.test.ts": `import { simDefaults } from "@atoll/platform";
import { describe, expect, it } from "vitest";
import { ${App} } from "../src/unikernel.js";

describe("${name}", () => {
  it("counts down one virtual second apart, without real waiting", async () => {
    const sim = simDefaults(1);
    const uk = ${App}(sim.bindings);
    await sim.world.run(uk.start(["--from=3"]));
    await uk.stop();
    expect(sim.console.text()).toBe("3…\\n2…\\n1…\\nliftoff\\n");
    expect(sim.world.now()).toBe(3e9);
  });

  it("rejects a bad argument, naming it", async () => {
    const sim = simDefaults(1);
    await expect(${App}(sim.bindings).start(["--from=-1"])).rejects.toThrow(/--from/);
  });
});
`,
    "README.md": `# ${name}

An [Atoll](https://github.com/atoll-os/atoll) unikernel.

\`\`\`sh
npm install
npm start -- --from=5      # on Node
npm test                   # under virtual time
npm run image              # seal it: dist/${name}.atoll
npm run sealed -- -- --from=5
\`\`\`

\`src/unikernel.ts\` is the application, a functor over the \`Console\` and
\`Time\` signatures; \`src/main.ts\` binds it to Node's devices.
`,
    ".gitignore": "node_modules/\ndist/\n",
  });
}

interface SignatureTemplate {
  readonly pkg: string;
  readonly signature: string;
  readonly conformance: string;
  readonly imports: string;
  readonly implementation: (Name: string, name: string) => string;
  readonly harness: (factory: string) => string;
  readonly testImports: string;
}

const templates: Record<string, SignatureTemplate> = {
  console: {
    pkg: "@atoll/console",
    signature: "Console",
    conformance: "consoleConformance",
    imports: 'import { Console } from "@atoll/console";',
    implementation: (
      Name,
      name,
    ) => `/** A console that hands every byte written to \`sink\`, and reads input fed with \`feed\`. */
export class ${Name}Console implements Console {
  readonly #sink: (bytes: Uint8Array) => void;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #reading = false;

  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }

  write(data: string | Uint8Array): void {
    this.#sink(typeof data === "string" ? new TextEncoder().encode(data) : data.slice());
  }

  async flush(): Promise<void> {}

  async *input(): AsyncGenerator<Uint8Array> {
    if (this.#reading) throw new AtollError("ATOLL_CONSOLE_INPUT_BUSY", "console input already has a reader");
    this.#reading = true;
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) yield chunk;
        else if (this.#ended) return;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.#reading = false;
    }
  }

  feed(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#wake?.();
  }

  endInput(): void {
    this.#ended = true;
    this.#wake?.();
  }
}

export interface ${Name}Options {
  /** Where written bytes go (default: nowhere). */
  readonly sink?: (bytes: Uint8Array) => void;
}

export const ${camel(name)} = (options: ${Name}Options = {}) =>
  driver({
    name: "console.${name}",
    provides: Console,
    connect: () => new ${Name}Console(options.sink ?? (() => {})),
  });
`,
    testImports: 'import { consoleConformance } from "@atoll/console/conformance";',
    harness: (factory) => `consoleConformance({
  name: "${factory}",
  setup() {
    const written: Uint8Array[] = [];
    const console = new ${factory}Console((bytes) => written.push(bytes));
    return {
      console,
      written: () => Uint8Array.from(written.flatMap((b) => [...b])),
      feed: (data: Uint8Array) => console.feed(data),
      endInput: () => console.endInput(),
    };
  },
});`,
  },
  random: {
    pkg: "@atoll/entropy",
    signature: "Random",
    conformance: "randomConformance",
    imports: 'import { ChaCha20Stream, Random, RandomSource } from "@atoll/entropy";',
    implementation: (
      Name,
      name,
    ) => `/** Random bytes from a ChaCha20 keystream under a 32-byte key (replace with your generator). */
export class ${Name}Random extends RandomSource {
  readonly #stream: ChaCha20Stream;
  constructor(key: Uint8Array) {
    super();
    this.#stream = new ChaCha20Stream(key);
  }
  protected generate(out: Uint8Array): void {
    this.#stream.read(out);
  }
}

export const ${camel(name)} = (key: Uint8Array) =>
  driver({
    name: "random.${name}",
    provides: Random,
    connect: () => new ${Name}Random(key),
  });
`,
    testImports: 'import { randomConformance } from "@atoll/entropy/conformance";',
    harness: (factory) => `randomConformance({
  name: "${factory}",
  setup: () => ({ random: new ${factory}Random(new Uint8Array(32).fill(7)) }),
});`,
  },
  clock: {
    pkg: "@atoll/clock",
    signature: "MonotonicClock",
    conformance: "monotonicClockConformance",
    imports: 'import { MonotonicClock } from "@atoll/clock";',
    implementation: (
      Name,
      name,
    ) => `/** A monotonic clock over a nanosecond source (replace \`source\` with your hardware's). */
export class ${Name}Clock implements MonotonicClock {
  #last = 0;
  constructor(private readonly source: () => number) {}
  now(): number {
    const t = Math.round(this.source());
    if (t > this.#last) this.#last = t;
    return this.#last;
  }
}

export const ${camel(name)} = (source: () => number) =>
  driver({
    name: "clock.${name}",
    provides: MonotonicClock,
    connect: () => new ${Name}Clock(source),
  });
`,
    testImports: 'import { monotonicClockConformance } from "@atoll/clock/conformance";',
    harness: (factory) => `let ticks = 0;
monotonicClockConformance({
  name: "${factory}",
  setup: () => ({ clock: new ${factory}Clock(() => (ticks += 1000)) }),
});`,
  },
};

export const signatureChoices = Object.keys(templates);

export interface DriverOptions {
  readonly name: string;
  readonly dir: string;
  /** Which signature the driver provides: one of signatureChoices. */
  readonly signature: string;
}

/** A driver package whose tests run the signature's conformance suite. */
export function scaffoldDriver({ name, dir, signature }: DriverOptions): Scaffolded {
  checkName(name);
  const t = templates[signature];
  if (t === undefined)
    throw new ScaffoldError(
      signature === ""
        ? `atoll new driver needs --signature ${signatureChoices.join("|")}`
        : `no driver template for "${signature}": choose one of ${signatureChoices.join(", ")} (the netif and block templates come with their conformance suites)`,
    );
  const Name = pascal(name);
  const usesAtollError = signature === "console";
  return write(dir, {
    "package.json": json({
      name,
      version: "0.1.0",
      type: "module",
      description: `${name}: an Atoll ${t.signature} driver`,
      sideEffects: false,
      engines: { node: ">=20" },
      exports: { ".": "./src/index.ts" },
      scripts: { test: "vitest run", typecheck: "tsc --noEmit" },
      dependencies: { "@atoll/core": ATOLL_RANGE, [t.pkg]: ATOLL_RANGE },
      devDependencies: {
        "@types/node": versions["@types/node"],
        typescript: versions.typescript,
        vitest: versions.vitest,
      },
    }),
    "tsconfig.json": tsconfig,
    "src/index.ts": `// ${name}: a driver providing ${t.signature} (${t.pkg}). Its tests run the
// signature's conformance suite, the same one every in-tree driver passes.

import { ${usesAtollError ? "AtollError, " : ""}driver } from "@atoll/core";
${t.imports}

${t.implementation(Name, name)}`,
    "test/conformance.test.ts": `${t.testImports}
import { ${Name}${t.signature === "MonotonicClock" ? "Clock" : t.signature} } from "../src/index.js";

${t.harness(Name)}
`,
    "README.md": `# ${name}

An [Atoll](https://github.com/atoll-os/atoll) driver providing \`${t.signature}\`
from \`${t.pkg}\`. \`npm test\` runs the signature's conformance suite
(\`${t.conformance}\`) against it.
`,
    ".gitignore": "node_modules/\n",
  });
}
