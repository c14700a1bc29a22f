import { errorCode, errorMessage } from '@mamori/core';
import type { DetectionCodec, EventCodec } from '@mamori/events';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import { applyEventRetention, insertDetections, insertEvents, type DetectionRow, type EventRow, type StorageDriver } from '@mamori/storage';
import type { ConsumedBatch, ConsumedMessage } from '@mamori/transport';
import { Counter, Gauge, Histogram, type Registry } from '@mamori/metrics';
import type { WriterConfig } from './config.ts';
import { InsertBuffer, type BufferedRow } from './insert-buffer.ts';
import { detectionRow, eventRow } from './rows.ts';

/**
 * Dead-letter codes this stage sets itself; listed in docs/errors.md. A record whose decode or row
 * conversion failed with a MamoriError (CodecError, StorageError) keeps that error's code.
 *
 * - `WRITER_RECORD_INVALID`: the record could not be turned into a row for a reason without a code
 *   of its own (e.g. it has no value).
 */
export const STAGE_ERROR_CODES = ['WRITER_RECORD_INVALID'] as const;
type StageErrorCode = (typeof STAGE_ERROR_CODES)[number];

export interface WriterDeps {
  storage: StorageDriver;
  eventCodec: EventCodec;
  detectionCodec: DetectionCodec;
  registry: Registry;
}

/** Pause/resume of the stage's consumer, handed over by the StageRunner (`attachFlowControl`). */
export interface FlowControl {
  pause(): void;
  resume(): void;
  isPaused(): boolean;
}

type Table = 'events' | 'detections';
const TABLES: readonly Table[] = ['events', 'detections'];

/**
 * Writes events and detections to ClickHouse in large blocks while keeping "offsets are committed
 * only after ClickHouse acknowledged": every consumed batch adds its rows to one shared
 * {@link InsertBuffer} and its `process` call waits until the flush holding those rows is written.
 * Batches of different partitions are handled at the same time (`concurrentBatches`), so one
 * flush gathers rows across Kafka batches; it starts at `batchRows` rows or after
 * `flushIntervalMs`.
 *
 * ClickHouse down: the flush is retried with capped exponential back-off, the consumer is paused
 * through the runner's flow control (`mamori_writer_paused`), nothing is committed, and consumption
 * resumes after the first successful insert. Replays are harmless: each insert carries a
 * deduplication token derived from its records' topic/partition/offset ranges, and both tables
 * replace by id. A row ClickHouse rejects as invalid is isolated by splitting the block and
 * dead-lettered with the engine's reason; its batch-mates are written. A record that cannot be
 * decoded or converted is dead-lettered too.
 */
export class WriterStage implements Stage {
  readonly name = 'writer';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[] = [];
  /** Read by the StageRunner: `process` calls may overlap (they share the insert buffer). */
  readonly concurrentBatches = true;

  private readonly insertSeconds: Histogram<'table'>;
  private readonly insertErrors: Counter<'table' | 'error_code'>;
  private readonly rowsInserted: Counter<'table'>;
  private readonly retries: Counter<'table'>;
  private readonly pausedGauge: Gauge<string>;
  private readonly pauses: Counter<string>;
  private readonly bufferedGauge: Gauge<string>;
  private readonly buffer: InsertBuffer<Table>;
  private flowControl: FlowControl | undefined;
  private retention: Promise<void> | undefined;

  constructor(
    private readonly config: WriterConfig,
    private readonly deps: WriterDeps,
  ) {
    this.inputTopics = [config.eventsTopic, config.detectionsTopic];
    const registers = [deps.registry];
    this.insertSeconds = new Histogram({
      name: 'mamori_writer_insert_duration_seconds',
      help: 'Time for ClickHouse to acknowledge one insert, per table.',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.insertErrors = new Counter({
      name: 'mamori_writer_insert_errors_total',
      help: 'Inserts ClickHouse refused or did not answer, per table and error code (retried, or split when the data is invalid).',
      labelNames: ['table', 'error_code'],
      registers,
    });
    this.rowsInserted = new Counter({
      name: 'mamori_writer_rows_inserted_total',
      help: 'Rows ClickHouse acknowledged, per table.',
      labelNames: ['table'],
      registers,
    });
    this.retries = new Counter({
      name: 'mamori_writer_insert_retries_total',
      help: 'Insert attempts that failed and will be retried after a back-off, per table.',
      labelNames: ['table'],
      registers,
    });
    this.pausedGauge = new Gauge({
      name: 'mamori_writer_paused',
      help: '1 while consumption is paused because ClickHouse inserts are failing, else 0.',
      registers,
    });
    this.pauses = new Counter({
      name: 'mamori_writer_pauses_total',
      help: 'Times consumption was paused because ClickHouse inserts were failing.',
      registers,
    });
    this.bufferedGauge = new Gauge({
      name: 'mamori_writer_buffered_records',
      help: 'Rows waiting in the writer for their flush to ClickHouse.',
      registers,
    });
    this.pausedGauge.set(0);
    this.bufferedGauge.set(0);
    this.buffer = new InsertBuffer<Table>(
      TABLES,
      {
        batchRows: config.batchRows,
        flushIntervalMs: config.flushIntervalMs,
        idleMs: config.flushIdleMs,
        retryInitialMs: config.retryInitialMs,
        retryMaxMs: config.retryMaxMs,
      },
      {
        insert: (table, rows, token) => this.timed(table, () => this.insertRows(table, rows, token)),
        onError: (table, error, willRetry) => {
          this.insertErrors.inc({ table, error_code: errorCode(error) });
          if (willRetry) this.retries.inc({ table });
        },
        onInserted: (table, rows) => this.rowsInserted.inc({ table }, rows),
        onBackpressure: (paused) => {
          this.pausedGauge.set(paused ? 1 : 0);
          if (paused) {
            this.pauses.inc();
            this.flowControl?.pause();
          } else {
            this.flowControl?.resume();
          }
        },
        onBuffered: (rows) => this.bufferedGauge.set(rows),
      },
    );
  }

  /** Called by the StageRunner once its consumer exists: the writer pauses it while ClickHouse fails. */
  attachFlowControl(control: FlowControl): void {
    this.flowControl = control;
  }

  /** Whether consumption is paused for backpressure (for tests and /readyz). */
  isPaused(): boolean {
    return this.flowControl?.isPaused() ?? false;
  }

  private insertRows(table: Table, rows: readonly unknown[], token: string): Promise<void> {
    const options = { deduplicationToken: token };
    return table === 'events'
      ? insertEvents(this.deps.storage, rows as EventRow[], options)
      : insertDetections(this.deps.storage, rows as DetectionRow[], options);
  }

  private async timed(table: string, insert: () => Promise<void>): Promise<void> {
    const end = this.insertSeconds.startTimer({ table });
    await insert();
    end();
  }

  /** Applies the configured event retention once (a metadata-only ALTER); retried with the batch on failure. */
  private ensureRetention(): Promise<void> {
    this.retention ??= applyEventRetention(this.deps.storage, {
      defaultDays: this.config.eventRetentionDays,
      byClass: this.config.eventRetentionByClass,
    }).then(
      () => undefined,
      (error: unknown) => {
        this.retention = undefined;
        throw error;
      },
    );
    return this.retention;
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    await this.ensureRetention();
    const events: BufferedRow<EventRow>[] = [];
    const detections: BufferedRow<DetectionRow>[] = [];
    const deadLetters: DeadLetter[] = [];
    // With a Schema Registry, unseen writer schema ids are looked up once per batch (a failing
    // registry fails the batch, which is retried).
    const isDetection = (m: ConsumedMessage) => m.topic === this.config.detectionsTopic;
    await Promise.all([
      this.deps.eventCodec.prefetch(batch.messages.filter((m) => !isDetection(m)).map((m) => m.value)),
      this.deps.detectionCodec.prefetch(batch.messages.filter(isDetection).map((m) => m.value)),
    ]);
    for (const message of batch.messages) {
      try {
        if (isDetection(message)) detections.push({ row: detectionRow(this.deps.detectionCodec.decode(value(message))), message });
        else events.push({ row: eventRow(this.deps.eventCodec.decode(value(message))), message });
      } catch (error) {
        deadLetters.push({ message, code: errorCode(error) === 'INTERNAL' ? ('WRITER_RECORD_INVALID' satisfies StageErrorCode) : errorCode(error), reason: errorMessage(error) });
      }
    }
    // Resolves once ClickHouse holds every row of this batch (or refused some as invalid).
    const rejected = await this.buffer.add(
      new Map<Table, BufferedRow<unknown>[]>([
        ['events', events],
        ['detections', detections],
      ]),
    );
    let rejectedDetections = 0;
    for (const r of rejected) {
      if (isDetection(r.message)) rejectedDetections += 1;
      deadLetters.push({ message: r.message, code: r.code, reason: `ClickHouse refused the row: ${r.reason}` });
    }
    return {
      outputs: [],
      deadLetters,
      sunk: [
        { target: 'clickhouse.events', count: events.length - (rejected.length - rejectedDetections) },
        { target: 'clickhouse.detections', count: detections.length - rejectedDetections },
      ],
    };
  }

  /** Flushes what is buffered (bounded), then refuses new batches; unwritten batches are redelivered. */
  async close(): Promise<void> {
    await this.buffer.close(Math.max(2_000, this.config.flushIntervalMs * 3));
  }
}

function value(message: ConsumedMessage): Buffer {
  if (!message.value) throw new Error('record has no value');
  return message.value;
}
