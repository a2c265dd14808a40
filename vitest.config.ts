import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the workspace packages from source, so a test run never sees a stale build.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = [
  { find: '@tidemark/sdk/testing', replacement: `${packagesDir}sdk/src/testing.ts` },
  { find: '@tidemark/core/testing', replacement: `${packagesDir}core/src/testing.ts` },
  ...readdirSync(packagesDir).map((name) => ({
    find: new RegExp(`^@tidemark/${name}$`),
    replacement: `${packagesDir}${name}/src/index.ts`,
  })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: [
            'packages/*/src/**/*.int.test.ts',
            'examples/*/src/**/*.int.test.ts',
            'test/**/*.int.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/dist/**'],
          globalSetup: ['./test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores: one broker, a few clients. Files run two at a time.
          maxWorkers: 2,
          // Real brokers on two shared cores: a test that fails is run once more, and the flaky
          // reporter (test/flaky-reporter.ts) names every test that passed only on the retry.
          retry: 1,
        },
      },
    ],
  },
});
