import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Integration tests need the real servers. The test command starts them (`npm run services -- up`);
 * here we only check that every one answers, and fail loudly naming the one that does not.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../scripts/services.mjs', import.meta.url));
  try {
    execFileSync(process.execPath, [script, 'check'], { stdio: 'inherit' });
  } catch {
    throw new Error(
      'Integration tests need Kafka, the Kinesis emulator, PostgreSQL, RabbitMQ and Mosquitto. ' +
        'Start them with `npm run services -- up` (the `npm test` command does this itself).',
    );
  }
}
