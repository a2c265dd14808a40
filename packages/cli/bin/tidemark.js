#!/usr/bin/env node
// The `tidemark` command. This file is committed (not built) so that `npm install` links the
// command even in a fresh clone before the first build; it loads the built CLI and, when the
// build is missing, says how to make it.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    'tidemark: the CLI is not built yet (packages/cli/dist/bin.js is missing).\n' +
      '  fix: run `npm run build` at the repository root (or `npm test`, which builds first).\n',
  );
  process.exit(1);
}
await import(built.href);
