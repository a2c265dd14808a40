// The peers' classpath: Kafka Connect (runtime, FileStreamSource) and the producer perf tool,
// resolved from Maven Central once (tools/kafka-peers/pom.xml) into the user cache.
import { homedir } from 'node:os';
import path from 'node:path';
import { kafkaVersion } from '../../lib/addresses.mjs';
import { ensureKafkaLibraries } from '../../lib/kafka.mjs';
import { findExecutable } from '../../lib/processes.mjs';

/** Returns `{ java, classpath }` for the peers, resolving the jars on first use. */
export function peerClasspath(report = (line) => console.error(line)) {
  const java = findExecutable('java');
  if (!java)
    throw new Error('java not found: the peers need a JDK 17+ (apt-get install openjdk-17-jre-headless)');
  const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  const directory = path.join(cache, 'tidemark', `kafka-peers-${kafkaVersion}`, 'libs');
  ensureKafkaLibraries(directory, report, {
    pom: path.join('tools', 'kafka-peers', 'pom.xml'),
    jars: [
      `connect-runtime-${kafkaVersion}.jar`,
      `connect-file-${kafkaVersion}.jar`,
      `kafka-tools-${kafkaVersion}.jar`,
    ],
  });
  return { java, classpath: `${directory}/*` };
}
