import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultBrokers } from './connection.js';
import { PipelineLease } from './lease.js';

const connection = {
  brokers: defaultBrokers(),
  clientId: 'lease-test',
  ssl: false as const,
  sasl: undefined,
};
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('PipelineLease after a SIGKILLed holder', () => {
  it('releases at once while its join still waits out the dead holder’s session', async () => {
    const pipeline = `lease-test-${Date.now()}-${process.pid}`;
    const script = `import { PipelineLease } from ${JSON.stringify(built)};
const lease = new PipelineLease(${JSON.stringify(connection)}, ${JSON.stringify(pipeline)});
if (await lease.acquire()) console.log('held'); else process.exit(3);
setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
      holder.on('exit', (code) =>
        reject(new Error(`the lease holder exited with ${code} before holding the lease`)),
      );
    });
    holder.kill('SIGKILL');
    // As the CLI does: the lease is acquired in the background while the pipeline works.
    const lease = new PipelineLease(connection, pipeline);
    const acquiring = lease.acquire().catch(() => false);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(lease.held).toBe(false);
    const started = Date.now();
    await lease.release();
    expect(Date.now() - started).toBeLessThan(2_000);
    await acquiring;
  });
});
