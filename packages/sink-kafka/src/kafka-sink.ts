import { isUtf8 } from 'node:buffer';
import {
  type CommitPayload,
  type CommittedState,
  CommitUncertainError,
  EMPTY_COMMITTED_STATE,
  type FencedError,
  type Logger,
  type PipelineIdentity,
  PoisonRecordError,
  type SinkCapabilities,
  type SinkRecord,
  type SinkState,
  SinkStateMachine,
  silentLogger,
  TidemarkError,
  type TransactionalSink,
} from '@tidemark/sdk';
import {
  type KafkaSinkConfig,
  type KafkaSinkConfigInput,
  parseKafkaSinkConfig,
  resolveTransactionalId,
  resolveWatermarkGroup,
} from './config.js';
import {
  createKafkajsClient,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaClientFactory,
  type KafkaTransaction,
  type OutgoingMessage,
  type TopicMessages,
  type TransactionalProducer,
  translateKafkaError,
} from './kafka-client.js';
import { readSettledWatermark, watermarkEntries } from './watermark-store.js';

/** Header carrying the pipeline id on every record, when provenance headers are on. */
export const PIPELINE_HEADER = 'tidemark.pipeline';
/** The single provenance header of `provenanceHeaders: 'json'`. */
export const PROVENANCE_HEADER = 'tidemark.provenance';
/** Header carrying the poison reason on dead-lettered records. */
export const ERROR_HEADER = 'tidemark.error';
/** Prefix of the provenance headers: `tidemark.<column>`. */
export const PROVENANCE_HEADER_PREFIX = 'tidemark.';

export interface KafkaSinkOptions {
  readonly logger?: Logger;
  /** Replaces the kafkajs client: another client library, or a test double. */
  readonly clientFactory?: KafkaClientFactory;
}

const EMPTY_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** Rough per-message framing overhead counted against `batch.maxBytes`. */
const MESSAGE_OVERHEAD_BYTES = 32;

/**
 * The transactional Kafka sink.
 *
 * Records are buffered and sent in large batches inside one Kafka transaction; at commit the
 * watermarks are added to the same transaction as an offset commit of the watermark group,
 * then the transaction commits. Calls are never concurrent (the runtime awaits each); at most
 * one send is in flight, overlapping the runtime's next `write`.
 *
 * Errors: CONNECTION_FAILED / TIMEOUT (retriable) while opening or sending; FENCED (not
 * retriable) once a newer instance took the transactional id — a fenced sink stays fenced,
 * even `recover` refuses; COMMIT_UNCERTAIN when EndTxn fails without a definite answer (only
 * `recover` and `close` are legal then); POISON_RECORD for bytes that do not match
 * `keyFormat`/`valueFormat`; ILLEGAL_STATE for calls out of order.
 */
export class KafkaSink implements TransactionalSink {
  readonly capabilities: SinkCapabilities;
  readonly #config: KafkaSinkConfig;
  readonly #logger: Logger;
  readonly #client: KafkaClient;
  readonly #machine = new SinkStateMachine();
  readonly #headerNames = new Map<string, string>();

  #identity: PipelineIdentity | null = null;
  #group = '';
  #pipelineHeader = '';
  #pipelineJsonPrefix = '{';
  #producer: TransactionalProducer | null = null;
  #admin: KafkaAdmin | null = null;
  #transaction: KafkaTransaction | null = null;
  #committed: CommittedState = EMPTY_COMMITTED_STATE;
  #sequence = 0;
  #fenced: FencedError | null = null;
  #watermarkTopicPartitions: number | null = null;

  #main: OutgoingMessage[] = [];
  #deadLetter: OutgoingMessage[] = [];
  #bufferedRecords = 0;
  #bufferedBytes = 0;
  #inFlight: Promise<void> = Promise.resolve();
  #sendError: unknown = null;

  constructor(config: KafkaSinkConfig, options: KafkaSinkOptions = {}) {
    this.#config = config;
    this.#logger = (options.logger ?? silentLogger).child({ sink: 'kafka', topic: config.topic });
    this.#client = (options.clientFactory ?? createKafkajsClient)(config, this.#logger);
    this.capabilities = Object.freeze({
      transactional: true,
      deadLetter: config.deadLetterTopic !== undefined,
    });
  }

  /** The state of the sink's state machine. */
  get state(): SinkState {
    return this.#machine.state;
  }

  /** The last committed state this sink knows (from open, recover or its own commits). */
  get committed(): CommittedState {
    return this.#committed;
  }

  /**
   * Connects, creates missing topics (when `autoCreateTopics`), initialises the transactional
   * id — fencing any older instance and resolving its open transaction — and only then reads
   * the committed state. Bounded by `connectTimeoutMs`; throws CONNECTION_FAILED (retriable)
   * when the brokers cannot be reached, and leaves the sink closed on any failure.
   */
  async open(identity: PipelineIdentity): Promise<CommittedState> {
    this.#machine.enter('open');
    this.#identity = identity;
    this.#group = resolveWatermarkGroup(this.#config, identity);
    this.#pipelineHeader =
      identity.taskId === undefined ? identity.pipelineId : `${identity.pipelineId}/${identity.taskId}`;
    this.#pipelineJsonPrefix = `{"pipeline":${JSON.stringify(this.#pipelineHeader)}`;
    this.#fenced = null;
    try {
      await this.#withConnectTimeout('open', async () => {
        this.#admin = this.#client.createAdmin();
        await this.#admin.connect();
        if (this.#config.autoCreateTopics) {
          const topics = [{ topic: this.#config.topic }];
          if (this.#config.deadLetterTopic !== undefined)
            topics.push({ topic: this.#config.deadLetterTopic });
          await this.#admin.createTopics(topics);
        }
        await this.#startProducer();
      });
      await this.#readState();
    } catch (error) {
      await this.#release();
      throw translateKafkaError(error, 'open', this.#config);
    }
    this.#machine.to('idle');
    this.#logger.info(
      {
        transactionalId: resolveTransactionalId(this.#config, identity),
        group: this.#group,
        sequence: this.#sequence,
      },
      'kafka sink opened',
    );
    return this.#committed;
  }

  /**
   * Reads the committed state of `identity` through the admin client without fencing anyone.
   * Legal in any state; does not change it. May miss a commit still pending.
   */
  async readCommitted(identity: PipelineIdentity): Promise<CommittedState> {
    const shared = this.#admin;
    const admin = shared ?? this.#client.createAdmin();
    try {
      if (!shared) await admin.connect();
      const stored = await readSettledWatermark(admin, this.#config, identity);
      return stored?.state ?? EMPTY_COMMITTED_STATE;
    } catch (error) {
      throw translateKafkaError(error, 'readCommitted', this.#config);
    } finally {
      if (!shared) await admin.disconnect();
    }
  }

  /** Starts a transaction. Only legal when idle. */
  async begin(): Promise<void> {
    this.#machine.enter('begin');
    try {
      this.#transaction = await this.#producer!.begin();
    } catch (error) {
      throw this.#failed(error, 'begin');
    }
    this.#machine.to('transaction');
  }

  /**
   * Buffers `records` (the main topic, or the dead-letter topic for route `dead-letter`) and
   * sends a batch whenever `batch.maxRecords` or `batch.maxBytes` is reached. A send failure
   * surfaces here or at `commit`.
   */
  async write(records: readonly SinkRecord[]): Promise<void> {
    this.#machine.enter('write');
    try {
      const { maxRecords, maxBytes } = this.#config.batch;
      for (const record of records) {
        this.#buffer(record);
        if (this.#bufferedRecords >= maxRecords || this.#bufferedBytes >= maxBytes) await this.#flush(false);
      }
    } catch (error) {
      throw this.#failed(error, 'write');
    }
  }

  /**
   * Sends what is buffered, adds the watermark offset commit to the transaction, and commits.
   * Fails definitely (state `failed`) up to EndTxn; when EndTxn fails without a definite
   * answer, throws CommitUncertainError and enters `uncertain`: call `recover`, never `abort`.
   */
  async commit(payload: CommitPayload): Promise<void> {
    this.#machine.enter('commit');
    const transaction = this.#transaction!;
    const sequence = this.#sequence + 1;
    const state: CommittedState = {
      watermarks: payload.watermarks,
      rowtime: payload.rowtime,
      committedAt: Date.now(),
    };
    try {
      await this.#flush(true);
      const entries = watermarkEntries(this.#config, { identity: this.#identity!, sequence, state });
      if (entries.length > 1) await this.#ensureWatermarkTopic(entries.length - 1);
      await transaction.sendOffsets(this.#group, entries);
    } catch (error) {
      throw this.#failed(error, 'commit');
    }
    try {
      await transaction.commit();
    } catch (error) {
      const translated = translateKafkaError(error, 'commit', this.#config);
      if (translated.code === 'FENCED') throw this.#failed(translated, 'commit');
      this.#transaction = null;
      this.#machine.to('uncertain');
      throw new CommitUncertainError(
        `kafka sink: the outcome of commit ${sequence} is unknown: ${translated.message}`,
        {
          cause: translated,
          fix: 'Nothing to do: the pipeline recovers with a new producer and resumes from what really committed.',
          details: { group: this.#group, sequence },
        },
      );
    }
    this.#transaction = null;
    this.#committed = state;
    this.#sequence = sequence;
    this.#machine.to('idle');
  }

  /**
   * Aborts the open transaction, then always replaces the producer, so the next transaction
   * starts with a fresh epoch and fresh sequence numbers. (Keeping it is unsafe: after a send
   * whose reply was lost, kafkajs rewinds its sequence numbers while the broker may hold the
   * batch; an abort with the same epoch keeps the broker's memory of that batch, and a replayed
   * batch with the same sequence numbers would be acknowledged as a duplicate and never
   * written.) After a failure the abort itself is best effort. A fenced sink throws FENCED.
   */
  async abort(): Promise<void> {
    this.#machine.enter('abort');
    const afterFailure = this.#machine.state === 'failed';
    if (this.#fenced) throw this.#fenced;
    await this.#drop();
    const transaction = this.#transaction;
    this.#transaction = null;
    try {
      if (transaction) await transaction.abort();
    } catch (error) {
      const translated = translateKafkaError(error, 'abort', this.#config);
      if (translated.code === 'FENCED' || !afterFailure) throw this.#failed(translated, 'abort');
      this.#logger.debug({ err: translated.message }, 'best-effort abort after a failure failed');
    }
    try {
      await this.#withConnectTimeout('abort', () => this.#replaceProducer());
    } catch (error) {
      throw this.#failed(error, 'abort');
    }
    this.#machine.to('idle');
  }

  /**
   * Discards the producer without ending its transaction, creates a new one with the same
   * transactional id (which completes or aborts whatever was pending), and returns the
   * committed state read afresh. Leaves the sink idle. A fenced sink throws FENCED: another
   * instance owns the pipeline, and only an explicit `close` and `open` takes it back.
   */
  async recover(): Promise<CommittedState> {
    this.#machine.enter('recover');
    if (this.#fenced) throw this.#fenced;
    await this.#drop();
    this.#transaction = null;
    try {
      await this.#withConnectTimeout('recover', () => this.#replaceProducer());
      await this.#readState();
    } catch (error) {
      throw this.#failed(error, 'recover');
    }
    this.#machine.to('idle');
    this.#logger.info({ group: this.#group, sequence: this.#sequence }, 'kafka sink recovered');
    return this.#committed;
  }

  /** Aborts an open transaction (best effort; never after an uncertain commit) and releases the clients. Idempotent. */
  async close(): Promise<void> {
    if (this.#machine.state === 'transaction' && this.#transaction && !this.#fenced) {
      await this.#drop();
      await this.#transaction.abort().catch((error: unknown) => {
        this.#logger.debug({ err: String(error) }, 'abort on close failed');
      });
    }
    this.#transaction = null;
    await this.#release();
    this.#machine.to('closed');
  }

  #buffer(record: SinkRecord): void {
    const config = this.#config;
    const key = toBytes(record.key, config.keyFormat, 'key', record);
    const value = toBytes(record.value, config.valueFormat, 'value', record);
    let bytes = MESSAGE_OVERHEAD_BYTES + (key?.byteLength ?? 0) + (value?.byteLength ?? 0);
    const deadLetter = record.route === 'dead-letter';
    let headers = EMPTY_HEADERS;
    const own = record.headers;
    const provenanceMode = config.provenanceHeaders;
    if (provenanceMode !== 'none' || deadLetter || hasKeys(own)) {
      headers = {};
      for (const name in own) {
        const headerValue = own[name]!;
        headers[name] = headerValue;
        bytes += name.length + headerValue.length;
      }
      if (provenanceMode === 'json') {
        const text = this.#provenanceJson(record.provenance);
        headers[PROVENANCE_HEADER] = text;
        bytes += PROVENANCE_HEADER.length + text.length;
      } else if (provenanceMode === 'columns') {
        const provenance = record.provenance;
        for (const column in provenance) {
          const provenanceValue = provenance[column];
          if (provenanceValue === null || provenanceValue === undefined) continue;
          const name = this.#headerName(column);
          const text = typeof provenanceValue === 'string' ? provenanceValue : String(provenanceValue);
          headers[name] = text;
          bytes += name.length + text.length;
        }
        headers[PIPELINE_HEADER] = this.#pipelineHeader;
      }
      if (deadLetter && record.poison !== undefined) headers[ERROR_HEADER] = record.poison;
    }
    const message: OutgoingMessage =
      config.timestamp === 'rowtime'
        ? { key, value, headers, timestamp: String(Math.trunc(record.rowtime)) }
        : { key, value, headers };
    if (deadLetter) {
      if (config.deadLetterTopic === undefined) {
        throw new TidemarkError(
          'CONFIG_INVALID',
          "kafka sink: a record was routed 'dead-letter' but no deadLetterTopic is set",
          {
            fix: 'Set deadLetterTopic in the sink options, or choose another poison policy.',
          },
        );
      }
      this.#deadLetter.push(message);
    } else {
      this.#main.push(message);
    }
    this.#bufferedRecords += 1;
    this.#bufferedBytes += bytes;
  }

  /** `{"pipeline":…,"<column>":value,…}`, built by hand: one string, no intermediate object. */
  #provenanceJson(provenance: SinkRecord['provenance']): string {
    let text = this.#pipelineJsonPrefix;
    for (const column in provenance) {
      const provenanceValue = provenance[column];
      if (provenanceValue === undefined) continue;
      text += `,${JSON.stringify(column)}:${JSON.stringify(provenanceValue)}`;
    }
    return `${text}}`;
  }

  #headerName(column: string): string {
    let name = this.#headerNames.get(column);
    if (name === undefined) {
      name = PROVENANCE_HEADER_PREFIX + column;
      this.#headerNames.set(column, name);
    }
    return name;
  }

  /**
   * Hands the buffered records to one send. Waits for the previous send first (one in flight)
   * and rethrows its failure. With `wait`, also waits for this send.
   */
  async #flush(wait: boolean): Promise<void> {
    await this.#inFlight;
    if (this.#sendError !== null) {
      const error = this.#sendError;
      this.#sendError = null;
      throw error;
    }
    if (this.#bufferedRecords === 0) return;
    const batches: TopicMessages[] = [];
    if (this.#main.length > 0) batches.push({ topic: this.#config.topic, messages: this.#main });
    if (this.#deadLetter.length > 0)
      batches.push({ topic: this.#config.deadLetterTopic!, messages: this.#deadLetter });
    this.#main = [];
    this.#deadLetter = [];
    this.#bufferedRecords = 0;
    this.#bufferedBytes = 0;
    const sending = this.#transaction!.send(batches);
    if (wait) {
      await sending;
      return;
    }
    this.#inFlight = sending.then(
      () => undefined,
      (error: unknown) => {
        this.#sendError = error;
      },
    );
  }

  /** Waits for the send in flight and forgets it and everything buffered. */
  async #drop(): Promise<void> {
    await this.#inFlight;
    this.#inFlight = Promise.resolve();
    this.#sendError = null;
    this.#main = [];
    this.#deadLetter = [];
    this.#bufferedRecords = 0;
    this.#bufferedBytes = 0;
  }

  /** Makes sure the watermark topic has at least `chunks` partitions. */
  async #ensureWatermarkTopic(chunks: number): Promise<void> {
    if (this.#watermarkTopicPartitions !== null && this.#watermarkTopicPartitions >= chunks) return;
    const admin = this.#admin!;
    const topic = this.#config.watermarkTopic;
    const current = await admin.partitionCount(topic);
    if (current !== null && current >= chunks) {
      this.#watermarkTopicPartitions = current;
      return;
    }
    if (!this.#config.autoCreateTopics) {
      throw new TidemarkError(
        'CONFIG_INVALID',
        `kafka sink: the watermark needs ${chunks} partitions of topic '${topic}', which has ${current ?? 'none'}`,
        { fix: `Create topic '${topic}' with at least ${chunks} partitions, or set autoCreateTopics: true.` },
      );
    }
    const wanted = Math.max(
      chunks,
      this.#config.watermarkTopicPartitions,
      current === null ? 0 : current * 2,
    );
    if (current === null) await admin.createTopics([{ topic, partitions: wanted }]);
    else await admin.createPartitions(topic, wanted);
    this.#logger.info({ topic, partitions: wanted }, 'watermark topic sized for a large watermark');
    this.#watermarkTopicPartitions = await admin.partitionCount(topic);
  }

  async #startProducer(): Promise<void> {
    const producer = this.#client.createProducer(resolveTransactionalId(this.#config, this.#identity!));
    this.#producer = producer;
    await producer.connect();
  }

  async #replaceProducer(): Promise<void> {
    const old = this.#producer;
    this.#producer = null;
    if (old) await old.disconnect();
    if (!this.#admin) {
      this.#admin = this.#client.createAdmin();
      await this.#admin.connect();
    }
    await this.#startProducer();
  }

  /**
   * Reads the committed state. Commit sequence numbers only grow, so a read older than one this
   * sink already saw (a broker whose metadata is not ready yet answering "no watermark") is
   * refused as retriable instead of rewinding the sources to their configured start.
   */
  async #readState(): Promise<void> {
    const stored = await readSettledWatermark(this.#admin!, this.#config, this.#identity!);
    const sequence = stored?.sequence ?? 0;
    if (sequence < this.#sequence) {
      throw new TidemarkError(
        'CONNECTION_FAILED',
        `kafka sink: group ${this.#group} reads as commit ${sequence}, older than commit ${this.#sequence} seen before`,
        {
          retriable: true,
          fix: 'Usually a broker still loading its metadata: the pipeline retries. If it persists, check that nobody deleted or reset the watermark group.',
        },
      );
    }
    this.#committed = stored?.state ?? EMPTY_COMMITTED_STATE;
    this.#sequence = sequence;
  }

  /** Runs `step` (connecting and fencing) within `connectTimeoutMs`. */
  async #withConnectTimeout(operation: string, step: () => Promise<void>): Promise<void> {
    const limit = this.#config.connectTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const running = step();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new TidemarkError(
            'CONNECTION_FAILED',
            `kafka sink: ${operation} did not connect within ${limit} ms`,
            {
              fix: `Start Kafka or set brokers: (now ${this.#config.brokers.join(',')}).`,
              details: { brokers: this.#config.brokers, timeoutMs: limit },
            },
          ),
        );
      }, limit);
    });
    try {
      await Promise.race([running, timeout]);
    } catch (error) {
      running.catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records a failure: FENCED sticks; every failure leaves the sink `failed`. Returns the error to throw. */
  #failed(error: unknown, operation: string): TidemarkError {
    const translated = translateKafkaError(error, operation, this.#config);
    if (translated.code === 'FENCED') this.#fenced = translated as FencedError;
    this.#machine.to('failed');
    return translated;
  }

  async #release(): Promise<void> {
    await this.#drop();
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = null;
    this.#admin = null;
    this.#watermarkTopicPartitions = null;
    await producer?.disconnect();
    await admin?.disconnect();
  }
}

/** Creates an unopened Kafka sink from options as written in YAML (validated here). */
export function createKafkaSink(config: KafkaSinkConfigInput, options: KafkaSinkOptions = {}): KafkaSink {
  return new KafkaSink(parseKafkaSinkConfig(config), options);
}

function hasKeys(headers: Record<string, string>): boolean {
  for (const _ in headers) return true;
  return false;
}

function toBytes(
  bytes: Uint8Array | null,
  format: KafkaSinkConfig['keyFormat'],
  field: 'key' | 'value',
  record: SinkRecord,
): Buffer | null {
  if (bytes === null) return null;
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'bytes') return buffer;
  if (format === 'string') {
    if (!isUtf8(buffer)) throw poison(field, 'is not valid UTF-8', record);
    return buffer;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.toString('utf8'));
  } catch {
    throw poison(field, 'is not valid JSON', record);
  }
  return Buffer.from(JSON.stringify(parsed), 'utf8');
}

function poison(field: 'key' | 'value', reason: string, record: SinkRecord): PoisonRecordError {
  return new PoisonRecordError(
    `kafka sink: the ${field} of the record at ${record.position.unit} ${reason}`,
    {
      fix: `Make the transform produce a valid ${field}, or set ${field}Format: bytes.`,
      details: { unit: record.position.unit, next: record.position.next },
    },
  );
}
