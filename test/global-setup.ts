import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface ServiceState {
  name: string;
  address: string;
  up: boolean;
  detail: string;
}

/**
 * Integration tests need the real servers. The test command starts them (`npm run services -- up`);
 * here we only check that every one answers, and fail naming each one that does not.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../scripts/services.mjs', import.meta.url));
  const result = spawnSync(process.execPath, [script, 'check', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  let states: ServiceState[];
  try {
    states = JSON.parse(result.stdout) as ServiceState[];
  } catch {
    throw new Error(
      `Could not check the integration test services (scripts/services.mjs check exited ${result.status}):\n` +
        `${result.stderr || result.error?.message || ''}`,
    );
  }
  const down = states.filter((state) => !state.up);
  if (down.length > 0) {
    const lines = down.map((state) => `  - ${state.name} at ${state.address}: ${state.detail}`).join('\n');
    throw new Error(
      `Integration tests need every local service, and these do not answer:\n${lines}\n` +
        'Start them with `npm run services -- up` (the `npm test` command does this itself), ' +
        'or point the TIDEMARK_* variables at running servers (docs/services.md).',
    );
  }
}
