import type { ProvenanceColumn } from '@tidemark/sdk';

/** The provenance columns every Kinesis record carries. */
export const KINESIS_PROVENANCE: readonly ProvenanceColumn[] = Object.freeze([
  { name: 'kinesis.stream', type: 'string', description: 'Stream the record was read from.' },
  { name: 'kinesis.shard_id', type: 'string', description: 'Shard the record was read from.' },
  {
    name: 'kinesis.sequence_number',
    type: 'bigint',
    description: 'Sequence number of the Kinesis record in its shard (decimal string).',
  },
  {
    name: 'kinesis.sub_sequence_number',
    type: 'integer',
    description: 'Index of the user record inside an aggregated (KPL) record; 0 for a plain record.',
  },
  {
    name: 'kinesis.arrival_time',
    type: 'timestamp',
    description: 'Approximate arrival time of the record in the stream (epoch ms); the rowtime.',
  },
  {
    name: 'kinesis.partition_key',
    type: 'string',
    description: 'Partition key of the record (of the user record, for an aggregated one).',
  },
]);
