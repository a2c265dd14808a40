/**
 * File templates of a new source plugin package. Each takes the names derived by
 * `scaffoldSource` and returns the file's text. The generated source is a working bounded
 * sequence source with a seekable position, so its conformance test passes out of the box.
 */

export interface SourceTemplateNames {
  /** npm package name, e.g. `@acme/tidemark-source-ticks`. */
  readonly packageName: string;
  /** Connector type users write in YAML, e.g. `ticks`. */
  readonly type: string;
  /** camelCase identifier stem, e.g. `ticks` → `ticksSource`. */
  readonly identifier: string;
  /** Version range of @tidemark/sdk to depend on. */
  readonly sdkVersion: string;
}

export function packageJsonTemplate(names: SourceTemplateNames): string {
  const manifest = {
    name: names.packageName,
    version: '0.1.0',
    description: `Tidemark source plugin: ${names.type}.`,
    license: 'Apache-2.0',
    type: 'module',
    sideEffects: false,
    engines: { node: '>=22.12' },
    keywords: ['tidemark', 'tidemark-source'],
    exports: {
      '.': { types: './dist/index.d.ts', import: './dist/index.js' },
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist', 'README.md'],
    scripts: {
      build: 'tsup',
      typecheck: 'tsc --noEmit -p tsconfig.json',
      test: 'vitest run',
    },
    dependencies: { '@tidemark/sdk': names.sdkVersion },
    devDependencies: {
      '@types/node': '^24.10.0',
      tsup: '^9.0.0',
      typescript: '~5.9.3',
      vitest: '^5.1.0',
    },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function tsconfigTemplate(): string {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      isolatedModules: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      declaration: true,
      sourceMap: true,
      outDir: 'dist',
      rootDir: 'src',
    },
    include: ['src'],
  };
  return `${JSON.stringify(tsconfig, null, 2)}\n`;
}

export function tsupConfigTemplate(): string {
  return `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
});
`;
}

export function gitignoreTemplate(): string {
  return 'node_modules/\ndist/\n';
}

export function sourceTemplate(names: SourceTemplateNames): string {
  const { type, identifier, packageName } = names;
  return `import {
  defineSource,
  type ProvenanceColumn,
  type ReadOptions,
  type Source,
  type SourceBatch,
  type SourceCapabilities,
  type TidemarkRecord,
  type Watermark,
  z,
} from '@tidemark/sdk';

/** The options users write under \`type: ${type}\` in their pipeline YAML. */
export const configSchema = z
  .object({
    count: z.number().int().min(0).default(100).describe('How many numbers to emit (0, 1, … count-1) before the source ends.'),
    rowtimeStart: z.number().int().default(0).describe('Rowtime (epoch ms) of number 0.'),
    rowtimeStepMs: z.number().int().min(0).default(1000).describe('Rowtime distance between consecutive numbers (ms).'),
  })
  .strict();

export type Config = z.output<typeof configSchema>;

/** The unit of order: this source has one, the whole sequence. */
const UNIT = 'sequence';
const encoder = new TextEncoder();

/** Declared up front and required: how it replays, whether it is exactly-once, whether it ends. */
const capabilities: SourceCapabilities = { replay: 'seek', exactlyOnce: true, bounded: true };

/** The provenance columns every record carries. */
const provenance: readonly ProvenanceColumn[] = [
  { name: '${type}.number', type: 'integer', description: 'The number this record carries.' },
];

/**
 * Emits the numbers 0 … count-1, then ends. The position after number n is n + 1, so
 * \`seek\` (and \`open\` at a watermark) resumes exactly after the last committed number.
 * Replace the body of \`read\` with your system's client; keep the contract: a position on
 * every record, deterministic re-reads from a watermark, every handle released in \`close\`.
 */
class ${capitalise(identifier)}Source implements Source {
  readonly provenance = provenance;
  readonly capabilities = capabilities;
  #next = 0;
  #open = false;

  constructor(
    readonly name: string,
    readonly config: Config,
  ) {}

  async open(watermark: Watermark | null): Promise<void> {
    this.#open = true;
    this.#positionAt(watermark);
  }

  async read(options: ReadOptions): Promise<SourceBatch> {
    if (!this.#open) throw new Error(\`\${this.name}: read() before open()\`);
    const records: TidemarkRecord[] = [];
    while (records.length < options.maxRecords && this.#next < this.config.count) {
      const number = this.#next;
      this.#next += 1;
      records.push({
        key: encoder.encode(String(number)),
        value: encoder.encode(JSON.stringify({ number })),
        headers: {},
        rowtime: this.config.rowtimeStart + number * this.config.rowtimeStepMs,
        provenance: { '${type}.number': number },
        position: { unit: UNIT, next: number + 1 },
      });
    }
    return { records, end: this.#next >= this.config.count };
  }

  async seek(watermark: Watermark | null): Promise<void> {
    this.#positionAt(watermark);
  }

  async acknowledge(_watermark: Watermark): Promise<void> {
    // A seek source: nothing to confirm upstream once the sink has committed.
  }

  async close(): Promise<void> {
    this.#open = false;
  }

  #positionAt(watermark: Watermark | null): void {
    const next = watermark?.[UNIT];
    this.#next = typeof next === 'number' ? next : 0;
  }
}

/** The connector: the runtime loads it for \`type: ${type}\`. */
export const ${identifier}Source = defineSource({
  type: '${type}',
  packageName: '${packageName}',
  version: '0.1.0',
  description: 'Emits a bounded sequence of numbers (a starting point for a real source).',
  configSchema,
  capabilities,
  provenance,
  create: (config, context) => new ${capitalise(identifier)}Source(context.name, config),
});

export default ${identifier}Source;
`;
}

export function sourceTestTemplate(names: SourceTemplateNames): string {
  return `import type { TidemarkRecord } from '@tidemark/sdk';
import { describeSourceConformance } from '@tidemark/sdk/testing';
import ${names.identifier}Source from './index.js';

const decoder = new TextDecoder();
let count = 0;

describeSourceConformance({
  connector: ${names.identifier}Source,
  // Every case starts from an empty source; produce() grows it.
  setup: () => {
    count = 0;
  },
  config: () => ({ count }),
  produce: async (n) => {
    const ids = Array.from({ length: n }, (_, index) => String(count + index));
    count += n;
    return ids;
  },
  idOf: (record: TidemarkRecord) => String((JSON.parse(decoder.decode(record.value!)) as { number: number }).number),
  badConfig: { count: -1, colour: 'blue' },
  quietMs: 50,
});
`;
}

export function readmeTemplate(names: SourceTemplateNames): string {
  return `# ${names.packageName}

A Tidemark source plugin (connector type \`${names.type}\`), generated by \`tidemark new source\`.

It starts as a bounded sequence source: it emits the numbers \`0 … count-1\` and ends. Its
position after number \`n\` is \`n + 1\`, so after any crash the runtime reopens it at the
committed watermark and it resumes exactly there.

\`\`\`yaml
pipelines:
  - id: numbers
    sources:
      - name: numbers
        type: ${names.packageName === `tidemark-source-${names.type}` ? names.type : `'${names.packageName}'`}
        count: 1000
\`\`\`

## Develop

\`\`\`sh
npm install
npm test        # runs the Tidemark conformance kit against the source
npm run build
\`\`\`

Replace the body of \`read()\` in \`src/index.ts\` with your system's client. Keep the contract
(see the Tidemark plugin guide): every record carries its provenance and a position; reading
again from a watermark yields exactly the records after it; \`close()\` releases every handle.
The conformance test in \`src/index.test.ts\` checks all of that — keep it passing.
`;
}

function capitalise(identifier: string): string {
  return identifier.charAt(0).toUpperCase() + identifier.slice(1);
}
