// Over 400 lines on purpose: this is the transaction state machine (open, begin, write, commit,
// abort, recover, close) with its send pipelining and fencing, which share the
// producer and the transaction. Message encoding is in message-encoder.ts, watermark storage in
// watermark-store.ts / watermark-codec.ts, the client adapter in kafka-client.ts.
import {
  type CommitPayload,
  type CommittedState,
  CommitUncertainError,
  EMPTY_COMMITTED_STATE,
  type FencedError,
  type Logger,
  type PipelineIdentity,
  type PoisonRecordError,
  type SinkCapabilities,
  type SinkRecord,
  type SinkState,
  SinkStateMachine,
  silentLogger,
  sleep,
  TidemarkError,
  type TransactionalSink,
  withDeadline,
} from '@tidemark/sdk';
import { createConfiguredClient } from './client-factory.js';
import {
  type KafkaSinkConfig,
  type KafkaSinkConfigInput,
  parseKafkaSinkConfig,
  resolveTransactionalId,
  resolveWatermarkGroup,
} from './config.js';
import {
  type KafkaAdmin,
  type KafkaClient,
  type KafkaClientFactory,
  type KafkaTransaction,
  type OutgoingMessage,
  type TopicMessages,
  type TransactionalProducer,
  translateKafkaError,
} from './kafka-client.js';
import { MessageEncoder } from './message-encoder.js';
import { readMessageLimits } from './message-limit.js';
import { readSettledWatermark, watermarkEntries } from './watermark-store.js';

/** Pause between reads while the watermark group reads older than a commit already seen. */
const OLDER_READ_RETRY_MS = 500;

export interface KafkaSinkOptions {
  readonly logger?: Logger;
  /** Replaces the client the `client` option names: another client library, or a test double. */
  readonly clientFactory?: KafkaClientFactory;
  /**
   * Reads the largest message each topic accepts (default: from the brokers, see
   * message-limit.ts; with a `clientFactory` and no reader, the broker defaults are assumed).
   */
  readonly readMessageLimits?: typeof readMessageLimits;
}

/**
 * The transactional Kafka sink.
 *
 * Records are buffered and sent in large batches inside one Kafka transaction; at commit the
 * watermarks are added to the same transaction as an offset commit of the watermark group,
 * then the transaction commits. Calls are never concurrent (the runtime awaits each); up to the
 * producer's `sendsInFlight` sends (one for kafkajs) overlap the runtime's next `write`s.
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
  readonly #encoder: MessageEncoder;
  readonly #readMessageLimits: typeof readMessageLimits | undefined;

  #identity: PipelineIdentity | null = null;
  #group = '';
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
  /**
   * Sends in flight with their bytes. A client may merge concurrent sends to one partition into
   * one record batch (@platformatic/kafka does), so the bytes in flight together stay under the
   * topics' message limit: a send that would pass it waits for the earlier ones first.
   */
  #inFlight: { readonly done: Promise<void>; readonly bytes: number }[] = [];
  #sendError: unknown = null;
  /** Bumped by every connect step and by close: a step that outlived its deadline stops at its next await. */
  #generation = 0;
  /** When the open transaction first reached the broker (a send or the offsets), or null. */
  #transactionSentAt: number | null = null;
  /** A send of the open transaction failed: its outcome at the brokers is unknown. */
  #sendFailed = false;

  constructor(config: KafkaSinkConfig, options: KafkaSinkOptions = {}) {
    this.#config = config;
    this.#logger = (options.logger ?? silentLogger).child({ sink: 'kafka', topic: config.topic });
    this.#client = (options.clientFactory ?? createConfiguredClient)(config, this.#logger);
    this.#encoder = new MessageEncoder(config);
    this.#readMessageLimits =
      options.readMessageLimits ?? (options.clientFactory ? undefined : readMessageLimits);
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
    this.#encoder.forPipeline(identity);
    this.#fenced = null;
    try {
      await this.#withConnectTimeout('open', async (current) => {
        const admin = this.#client.createAdmin();
        this.#admin = admin;
        await admin.connect();
        current();
        if (this.#config.autoCreateTopics) {
          // Only the missing ones: asking the broker to create an existing topic is an error it
          // reports (and the client logs) at every start.
          const missing: { topic: string }[] = [];
          for (const topic of [this.#config.topic, this.#config.deadLetterTopic]) {
            if (topic !== undefined && (await admin.partitionCount(topic)) === null) missing.push({ topic });
          }
          if (missing.length > 0) await admin.createTopics(missing);
          current();
        }
        await this.#startProducer(current);
      });
      await this.#learnMessageLimits();
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
    this.#transactionSentAt = null;
    this.#sendFailed = false;
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
        const message = this.#encoder.encode(record);
        // One send is one record batch per partition: it must stay under the topic's limit.
        if (
          this.#bufferedRecords > 0 &&
          this.#bufferedBytes + this.#encoder.encodedBytes > this.#encoder.batchLimitBytes
        )
          await this.#flush(false);
        this.#buffer(record, message);
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
      this.#transactionSentAt ??= Date.now();
      await transaction.sendOffsets(this.#group, entries);
    } catch (error) {
      throw this.#failed(error, 'commit');
    }
    try {
      await transaction.commit();
    } catch (error) {
      const translated = translateKafkaError(error, 'commit', this.#config);
      if (translated.code === 'FENCED') throw this.#failed(translated, 'commit');
      this.#sendFailed = false;
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
   *
   * After a failed send, EndTxn(abort) is skipped: the new producer's InitProducerId makes the
   * coordinator bump the epoch and write the abort markers at the bumped epoch, so a produce
   * request of the old epoch still queued at a broker (one without transaction verification)
   * is refused instead of landing after an old-epoch marker and joining the next transaction.
   */
  async abort(): Promise<void> {
    this.#machine.enter('abort');
    const afterFailure = this.#machine.state === 'failed';
    if (this.#fenced) throw this.#fenced;
    await this.#drop();
    const transaction = this.#takeTransactionToEnd();
    try {
      if (transaction) await transaction.abort();
    } catch (error) {
      const translated = translateKafkaError(error, 'abort', this.#config);
      if (translated.code === 'FENCED' || !afterFailure) throw this.#failed(translated, 'abort');
      this.#logger.debug({ err: translated.message }, 'best-effort abort after a failure failed');
    }
    try {
      await this.#withConnectTimeout('abort', (current) => this.#replaceProducer(current));
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
      await this.#withConnectTimeout('recover', (current) => this.#replaceProducer(current));
      await this.#readState();
    } catch (error) {
      throw this.#failed(error, 'recover');
    }
    this.#machine.to('idle');
    this.#logger.info({ group: this.#group, sequence: this.#sequence }, 'kafka sink recovered');
    return this.#committed;
  }

  /**
   * The records (by index) whose key or value does not match `keyFormat` / `valueFormat`: the
   * runtime's poison stage hands them to the poison policy before `write`. Records routed
   * `dead-letter` are never flagged: a dead letter is written as it is. No I/O; legal in any state.
   */
  checkRecords(records: readonly SinkRecord[]): ReadonlyMap<number, PoisonRecordError> {
    return this.#encoder.check(records);
  }

  /**
   * Aborts an open transaction — also one left by a failed write or commit, so the broker does
   * not hold it open until transactionTimeoutMs — and releases the clients. Best effort; never
   * after an uncertain commit or a fencing. Idempotent.
   */
  async close(): Promise<void> {
    const state = this.#machine.state;
    if ((state === 'transaction' || state === 'failed') && this.#transaction && !this.#fenced) {
      await this.#drop();
      const transaction = this.#takeTransactionToEnd();
      try {
        await this.#withConnectTimeout('close', async (current) => {
          if (transaction) await transaction.abort();
          else await this.#replaceProducer(current);
        });
      } catch (error) {
        this.#logger.debug({ err: String(error) }, 'abort on close failed');
      }
    }
    this.#generation += 1;
    this.#transaction = null;
    await this.#release();
    this.#machine.to('closed');
  }

  /** Reads the largest message the main and dead-letter topics accept (advisory, see message-limit.ts). */
  async #learnMessageLimits(): Promise<void> {
    if (this.#readMessageLimits === undefined) return;
    const { topic, deadLetterTopic } = this.#config;
    const limits = await this.#readMessageLimits(
      this.#config,
      deadLetterTopic === undefined ? [topic] : [topic, deadLetterTopic],
    );
    this.#encoder.limitMessages(limits.get(topic)!, limits.get(deadLetterTopic ?? topic)!);
  }

  /**
   * Forgets the open transaction and returns it when it should end with EndTxn(abort), or null
   * when a send of it failed: then only a new producer's InitProducerId (a bumped epoch) ends it.
   */
  #takeTransactionToEnd(): KafkaTransaction | null {
    const transaction = this.#transaction;
    this.#transaction = null;
    if (transaction && this.#sendFailed) {
      this.#logger.debug({}, 'a send failed: aborting through InitProducerId with a bumped epoch');
      return null;
    }
    return transaction;
  }

  #buffer(record: SinkRecord, message: OutgoingMessage): void {
    if (record.route === 'dead-letter') {
      if (this.#config.deadLetterTopic === undefined) {
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
    this.#bufferedBytes += this.#encoder.encodedBytes;
  }

  /**
   * Hands the buffered records to one send. Waits until fewer than the producer's
   * `sendsInFlight` sends are in flight (one for kafkajs) and rethrows a failure. With `wait`,
   * waits for every send, this one included.
   */
  async #flush(wait: boolean): Promise<void> {
    const limit = wait ? 1 : (this.#producer?.sendsInFlight ?? 1);
    const bytes = this.#bufferedBytes;
    const budget = this.#encoder.batchLimitBytes;
    const inFlightBytes = () => this.#inFlight.reduce((sum, send) => sum + send.bytes, 0);
    while (this.#inFlight.length >= limit || (this.#inFlight.length > 0 && inFlightBytes() + bytes > budget))
      await this.#inFlight.shift()!.done;
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
    this.#transactionSentAt ??= Date.now();
    const sending = this.#transaction!.send(batches).catch((error: unknown) => {
      this.#sendFailed = true;
      throw error;
    });
    if (wait) {
      await sending;
      return;
    }
    this.#inFlight.push({
      bytes,
      done: sending.then(
        () => undefined,
        (error: unknown) => {
          this.#sendError ??= error;
        },
      ),
    });
  }

  /** Waits for the sends in flight and forgets them and everything buffered. */
  async #drop(): Promise<void> {
    await Promise.all(this.#inFlight.map((send) => send.done));
    this.#inFlight = [];
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

  /** Creates and connects (fences with) a producer, unless `current` says the step is stale. */
  async #startProducer(current: () => void): Promise<void> {
    current();
    const producer = this.#client.createProducer(resolveTransactionalId(this.#config, this.#identity!));
    this.#producer = producer;
    let stale = false;
    try {
      await producer.connect(() => {
        try {
          current();
          return true;
        } catch {
          stale = true;
          return false;
        }
      });
      current();
    } catch (error) {
      if (stale || this.#producer !== producer) {
        if (this.#producer === producer) this.#producer = null;
        await producer.disconnect();
      }
      throw error;
    }
  }

  async #replaceProducer(current: () => void): Promise<void> {
    const old = this.#producer;
    this.#producer = null;
    if (old) await old.disconnect();
    current();
    if (!this.#admin) {
      const admin = this.#client.createAdmin();
      this.#admin = admin;
      await admin.connect();
      current();
    }
    await this.#startProducer(current);
  }

  /**
   * Reads the committed state. Commit sequence numbers only grow, so a read older than one this
   * sink already saw is never taken (it would rewind the sources). A broker still loading its
   * metadata can answer so for a moment: the read is repeated for up to `connectTimeoutMs`; an
   * older answer after that means the watermark group was deleted or reset under a running
   * pipeline, which is reported as such (not retriable: retrying cannot bring it back).
   */
  async #readState(): Promise<void> {
    const deadline = Date.now() + this.#config.connectTimeoutMs;
    let stored = await readSettledWatermark(this.#admin!, this.#config, this.#identity!);
    while ((stored?.sequence ?? 0) < this.#sequence && Date.now() < deadline) {
      await sleep(OLDER_READ_RETRY_MS);
      stored = await readSettledWatermark(this.#admin!, this.#config, this.#identity!);
    }
    const sequence = stored?.sequence ?? 0;
    if (sequence < this.#sequence) {
      const what = stored === null ? 'holds no watermark' : `holds commit ${sequence}`;
      throw new TidemarkError(
        'WATERMARK_INVALID',
        `kafka sink: watermark group '${this.#group}' ${what}, but this process committed up to commit ${this.#sequence}: the group was deleted or reset while the pipeline ran`,
        {
          retriable: false,
          fix: `Do not delete or reset the watermark group of a running pipeline (stop it first; 'tidemark watermarks reset' refuses while it runs). Restart the pipeline: it resumes from what group '${this.#group}' holds now${stored === null ? " (the sources' configured start, as after a reset)" : ''}.`,
          details: { group: this.#group, stored: sequence, seen: this.#sequence },
        },
      );
    }
    this.#committed = stored?.state ?? EMPTY_COMMITTED_STATE;
    this.#sequence = sequence;
  }

  /**
   * Runs `step` (connecting and fencing) within `connectTimeoutMs`. The step gets `current`,
   * which throws once a later step (or close) started: a step that outlived its deadline must
   * call it after every await, so it never creates a producer that fences its successor.
   */
  async #withConnectTimeout(operation: string, step: (current: () => void) => Promise<void>): Promise<void> {
    const limit = this.#config.connectTimeoutMs;
    this.#generation += 1;
    const generation = this.#generation;
    const current = () => {
      if (this.#generation !== generation) {
        throw new TidemarkError('ILLEGAL_STATE', `kafka sink: a late ${operation} step was abandoned`, {
          fix: 'Nothing to do: a later connect step replaced this one.',
        });
      }
    };
    await withDeadline(
      step(current),
      limit,
      () =>
        new TidemarkError(
          'CONNECTION_FAILED',
          `kafka sink: ${operation} did not connect within ${limit} ms`,
          {
            fix: `Start Kafka or set brokers: (now ${this.#config.brokers.join(',')}).`,
            details: { brokers: this.#config.brokers, timeoutMs: limit },
          },
        ),
    );
  }

  /** Records a failure: FENCED sticks; every failure leaves the sink `failed`. Returns the error to throw. */
  #failed(error: unknown, operation: string): TidemarkError {
    let translated = translateKafkaError(error, operation, this.#config);
    if (translated.code === 'FENCED' && this.#transactionOutlivedTimeout()) {
      const limit = this.#config.transactionTimeoutMs;
      translated = new TidemarkError(
        'TIMEOUT',
        `kafka sink: ${operation}: the broker aborted the transaction, open for more than transactionTimeoutMs (${limit} ms)`,
        {
          cause: translated,
          retriable: true,
          fix: `Nothing to do if rare: the pipeline recovers and resumes from the last commit. If it repeats, commit more often (a shorter commit interval or smaller transactions) or raise transactionTimeoutMs (now ${limit} ms; at most the broker's transaction.max.timeout.ms).`,
          details: { transactionTimeoutMs: limit },
        },
      );
    }
    if (translated.code === 'FENCED') this.#fenced = translated as FencedError;
    this.#machine.to('failed');
    return translated;
  }

  /**
   * True when the open transaction reached the broker at least transactionTimeoutMs ago: then a
   * fencing answer is the coordinator's timeout abort (it bumps the epoch), not a newer instance.
   */
  #transactionOutlivedTimeout(): boolean {
    const sentAt = this.#transactionSentAt;
    return sentAt !== null && Date.now() - sentAt >= this.#config.transactionTimeoutMs;
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
