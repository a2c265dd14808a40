// Kafka source (3 partitions) → PostgreSQL sink (multi-row INSERT). The pipeline is SIGKILLed
// at random and its sink connection terminated by the server (pg_terminate_backend), mostly
// while it runs COMMIT; rows are counted by record id and by provenance (partition, offset).
import { brokers, createTopic, random, uniqueName } from '../harness.mjs';
import {
  PostgresVerifier,
  runPostgresScenario,
  sinkOptions,
  slowCommitWatermarkTable,
  sql,
} from '../postgres.mjs';
import { TopicFeeder } from '../scenarios.mjs';

export async function kafkaPostgres({ kills, seed, log }) {
  const rng = random(seed);
  const table = uniqueName('chaos_kafka_pg').replaceAll('-', '_');
  await sql(`CREATE TABLE ${table} (row_id bigserial, id text NOT NULL, stream text, seq bigint,
    topic text, "partition" int, "offset" bigint)`);
  await slowCommitWatermarkTable(`${table}_watermarks`, 150);
  const inputTopic = uniqueName('chaos-kpg-in');
  await createTopic(inputTopic, 3);
  const reader = new PostgresVerifier(table, ['partition', 'offset']);
  await reader.start();
  const feeder = new TopicFeeder(inputTopic, 3, rng);
  await feeder.start();
  const pipelineId = uniqueName('chaos-kafka-pg');
  const spec = {
    pipelineId,
    sources: [
      {
        name: 'input',
        package: '@tidemark/source-kafka',
        options: { brokers, topics: [inputTopic], start: 'earliest' },
      },
    ],
    sink: {
      package: '@tidemark/sink-postgres',
      options: sinkOptions(table, 'append', {
        id: 'value.id',
        stream: 'value.stream',
        seq: 'value.seq',
        topic: 'provenance.kafka.topic',
        partition: 'provenance.kafka.partition',
        offset: 'provenance.kafka.offset',
      }),
    },
    commit: { maxWallMs: 300, maxRecords: 2_000 },
  };
  return runPostgresScenario({ kills, rng, log, spec, feeder, reader });
}
