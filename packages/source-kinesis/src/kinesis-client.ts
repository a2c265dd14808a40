import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  type KinesisClientConfig,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisSourceConfig } from './config.js';
import { toKinesisError } from './errors.js';
import type { ShardLineage, ShardStart } from './stream-position.js';

/** The client settings a source configuration asks for (credentials stay inside the client). */
export function clientSettings(config: KinesisSourceConfig): KinesisClientConfig {
  return {
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: config.credentials.accessKeyId,
            secretAccessKey: config.credentials.secretAccessKey,
            ...(config.credentials.sessionToken === undefined
              ? {}
              : { sessionToken: config.credentials.sessionToken }),
          },
        }),
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    maxAttempts: config.maxAttempts,
    // HTTP/1.1: over HTTP/2, some emulators answer a request the client then reports as failed.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
    }),
  };
}

/** A record as GetRecords returns it. */
export interface FetchedRecord {
  readonly sequenceNumber: string;
  readonly arrivalTime: number;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface FetchedBatch {
  readonly records: readonly FetchedRecord[];
  /** Undefined when the shard is closed and everything in it was returned. */
  readonly nextIterator: string | undefined;
  readonly millisBehindLatest: number | undefined;
}

/**
 * The few Kinesis calls the source makes. Each throws the AWS client's own errors (the source
 * decides what throttling or an expired iterator means); `listShards` and `iterator` map a
 * missing stream to NOT_FOUND. Calls may run concurrently. `close` is idempotent.
 */
export class KinesisApi {
  readonly #client: KinesisClient;

  constructor(config: KinesisSourceConfig) {
    this.#client = new KinesisClient(clientSettings(config));
  }

  /** Every shard of `stream` that the service still lists (all pages), in listing order. */
  async listShards(stream: string, signal?: AbortSignal): Promise<ShardLineage[]> {
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new ListShardsCommand(nextToken === undefined ? { StreamName: stream } : { NextToken: nextToken }),
          signal ? { abortSignal: signal } : {},
        );
        shards.push(...(page.Shards ?? []));
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw toKinesisError(error, `listing the shards of stream ${stream}`, stream);
    }
    return shards.map((shard) => ({
      shardId: shard.ShardId!,
      parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (parent): parent is string => typeof parent === 'string' && parent.length > 0,
      ),
      closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
    }));
  }

  /** A new shard iterator at `start`. */
  async iterator(stream: string, shardId: string, start: ShardStart, signal?: AbortSignal): Promise<string> {
    const request = {
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: start.type,
      ...(start.type === 'AFTER_SEQUENCE_NUMBER' || start.type === 'AT_SEQUENCE_NUMBER'
        ? { StartingSequenceNumber: start.sequenceNumber }
        : {}),
      ...(start.type === 'AT_TIMESTAMP' ? { Timestamp: new Date(start.time) } : {}),
    };
    const answer = await this.#client.send(
      new GetShardIteratorCommand(request),
      signal ? { abortSignal: signal } : {},
    );
    if (!answer.ShardIterator) throw new Error(`GetShardIterator gave no iterator for ${shardId}`);
    return answer.ShardIterator;
  }

  /** Up to `limit` records after `iterator`. */
  async records(iterator: string, limit: number, signal?: AbortSignal): Promise<FetchedBatch> {
    const answer: GetRecordsCommandOutput = await this.#client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
      signal ? { abortSignal: signal } : {},
    );
    return {
      records: (answer.Records ?? []).map((record) => ({
        sequenceNumber: record.SequenceNumber!,
        arrivalTime: record.ApproximateArrivalTimestamp?.getTime() ?? 0,
        partitionKey: record.PartitionKey ?? '',
        data: record.Data ?? new Uint8Array(),
      })),
      nextIterator: answer.NextShardIterator ?? undefined,
      millisBehindLatest: answer.MillisBehindLatest,
    };
  }

  close(): void {
    this.#client.destroy();
  }
}
