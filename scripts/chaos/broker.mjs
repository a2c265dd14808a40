// Broker bounce for the chaos harness: SIGKILL the Kafka broker that `npm run services -- up`
// started, keep it down a while, start it again and wait until it serves.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSettings } from '../lib/addresses.mjs';
import { kafkaFiles, kafkaMarker } from '../lib/kafka.mjs';
import { ownedProcess, sleep } from '../lib/processes.mjs';

const SERVICES = fileURLToPath(new URL('../services.mjs', import.meta.url));

export async function bounceBroker(log, downMs) {
  const settings = readSettings();
  const { pidFile } = kafkaFiles(settings.kafka.directory);
  const pid = ownedProcess(pidFile, kafkaMarker);
  if (pid === undefined) {
    throw new Error(
      `broker-bounce needs a Kafka broker started by 'npm run services -- up' (no live pid in ${path.relative(process.cwd(), pidFile)}); ` +
        'a broker started some other way cannot be bounced. Stop it and run `npm run services -- up`.',
    );
  }
  process.kill(pid, 'SIGKILL');
  while (ownedProcess(pidFile, kafkaMarker) !== undefined) await sleep(50);
  log(`broker pid ${pid} SIGKILLed; down for ${downMs} ms`);
  await sleep(downMs);
  const started = Date.now();
  execFileSync(process.execPath, [SERVICES, 'up', 'kafka'], { stdio: 'ignore' });
  log(`broker back in ${Date.now() - started} ms`);
}
