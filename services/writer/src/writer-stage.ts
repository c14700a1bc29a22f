import { errorCode, errorMessage } from '@mamori/core';
import type { DetectionCodec, EventCodec } from '@mamori/events';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import { insertDetections, insertEvents, type DetectionRow, type EventRow, type StorageDriver } from '@mamori/storage';
import type { ConsumedBatch, ConsumedMessage } from '@mamori/transport';
import { Counter, Histogram, type Registry } from '@mamori/metrics';
import type { WriterConfig } from './config.ts';
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

/**
 * Writes each consumed batch to ClickHouse in one insert per table. The batch is acknowledged (and
 * its offsets committed) only after ClickHouse acknowledged the insert; if ClickHouse is down the
 * batch fails and comes back after a back-off. Replays are harmless: both tables replace by id.
 * A record that cannot be decoded or converted is dead-lettered with the reason.
 */
export class WriterStage implements Stage {
  readonly name = 'writer';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[] = [];

  private readonly insertSeconds: Histogram<'table'>;
  private readonly insertErrors: Counter<'table' | 'error_code'>;

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
      help: 'Inserts ClickHouse refused or did not answer, per table and error code (the batch is retried).',
      labelNames: ['table', 'error_code'],
      registers,
    });
  }

  private async timed(table: string, insert: () => Promise<void>): Promise<void> {
    const end = this.insertSeconds.startTimer({ table });
    try {
      await insert();
      end();
    } catch (error) {
      this.insertErrors.inc({ table, error_code: errorCode(error) });
      throw error;
    }
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const events: EventRow[] = [];
    const detections: DetectionRow[] = [];
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
        if (message.topic === this.config.detectionsTopic) detections.push(detectionRow(this.deps.detectionCodec.decode(value(message))));
        else events.push(eventRow(this.deps.eventCodec.decode(value(message))));
      } catch (error) {
        deadLetters.push({ message, code: errorCode(error) === 'INTERNAL' ? ('WRITER_RECORD_INVALID' satisfies StageErrorCode) : errorCode(error), reason: errorMessage(error) });
      }
    }
    // Both inserts must succeed before the batch is acknowledged; a failure rejects the whole batch.
    await Promise.all([
      events.length > 0 ? this.timed('events', () => insertEvents(this.deps.storage, events)) : undefined,
      detections.length > 0 ? this.timed('detections', () => insertDetections(this.deps.storage, detections)) : undefined,
    ]);
    return {
      outputs: [],
      deadLetters,
      sunk: [
        { target: 'clickhouse.events', count: events.length },
        { target: 'clickhouse.detections', count: detections.length },
      ],
    };
  }
}

function value(message: ConsumedMessage): Buffer {
  if (!message.value) throw new Error('record has no value');
  return message.value;
}
