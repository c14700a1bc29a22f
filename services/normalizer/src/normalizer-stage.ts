import { errorMessage, isRetryable, MamoriError } from '@mamori/core';
import { eventKey, type EventCodec } from '@mamori/events';
import type { Inventory } from '@mamori/inventory';
import type { Registry } from '@mamori/metrics';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import type { ConsumedBatch, OutgoingMessage } from '@mamori/transport';
import type { NormalizerConfig } from './config.ts';
import { Enricher } from './enrich/enricher.ts';
import type { GeoLookup } from './enrich/geo.ts';
import { RecordNormalizer } from './enrich/record-normalizer.ts';
import { SENSOR_ERROR_CODES } from './enrich/sensors.ts';
import { EventEncoder, formatForTopic } from './normalize.ts';
import type { SensorFormat } from './formats/types.ts';
import { normalizerMetrics, type NormalizerMetrics } from './normalizer-metrics.ts';

/**
 * Dead-letter codes this stage sets itself (the rest are `NormalizeErrorCode`s); listed in
 * docs/errors.md.
 *
 * - `FORMAT_UNKNOWN`: no format is registered for the record's topic (also a NormalizeErrorCode).
 * - `RECORD_EMPTY`: the record has no value (a tombstone or an empty produce).
 * - `SENSOR_UNREGISTERED`, `SENSOR_FORMAT_NOT_ALLOWED`: the sensor registry refused the record
 *   (`SENSOR_ERROR_CODES`, enrich/sensors.ts).
 * - `RECORD_FAILED`: normalizing the record threw an error that carries no code of its own (a bug
 *   in a decoder, the enricher or the codec); the record is dead-lettered instead of failing the batch.
 */
export const STAGE_ERROR_CODES = ['FORMAT_UNKNOWN', 'RECORD_EMPTY', ...SENSOR_ERROR_CODES, 'RECORD_FAILED'] as const;
type StageErrorCode = (typeof STAGE_ERROR_CODES)[number];

/** Header naming the sensor that wrote a raw record (set by ingest entry points). */
export const SENSOR_ID_HEADER = 'mamori.sensor_id';

export interface NormalizerDeps {
  eventCodec: EventCodec;
  /** Organization of sensors the registry does not know, when unregistered sensors are allowed. */
  defaultOrg: string;
  /** The sensor registry and asset inventory (an `InventoryStore` follows reloads); unset = none. */
  inventory?: { readonly current: Inventory } | undefined;
  /** GeoIP/ASN databases; unset = no geo context. */
  geo?: GeoLookup | undefined;
  /** For the normalizer's own counters (`mamori_normalizer_records_total`); unset = not counted. */
  registry?: Registry | undefined;
  /** Called when the stage closes (stops the inventory watcher). */
  onClose?: () => void;
  /**
   * Which format reads a topic. @default the format registry (`formatForTopic`). Set it to run the
   * stage over topics of other names (isolated tests, a replay topic).
   */
  formatForTopic?: (topic: string) => SensorFormat | undefined;
}

/**
 * Raw sensor records to Avro `mamori.Event`s on the events topic, keyed by organization and source
 * address. The record's sensor (header `mamori.sensor_id`, else the key) decides its organization
 * and site through the inventory; a record of an unregistered sensor is dead-lettered whole unless
 * unregistered sensors are allowed. A record with bad lines (or an event the codec refuses) is
 * dead-lettered whole (original bytes, the first problem's code, the count); its good lines still
 * become events, with ids that make a later replay of the record harmless.
 *
 * No record can fail the batch: anything one record throws while it is normalized, enriched or
 * encoded dead-letters that record (its own code when it is a MamoriError, else `RECORD_FAILED`)
 * and the batch goes on. Only a retryable error is rethrown (the runner retries the batch);
 * a record's own work touches nothing remote, so that would be a bug too, but one that a retry
 * can clear. Kafka produce failures happen in the runner and still fail the batch.
 */
export class NormalizerStage implements Stage {
  readonly name = 'normalizer';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  private readonly records: RecordNormalizer;
  private readonly encoder: EventEncoder;
  private readonly metrics: NormalizerMetrics | undefined;

  constructor(
    private readonly config: NormalizerConfig,
    private readonly deps: NormalizerDeps,
  ) {
    this.inputTopics = config.rawTopics;
    this.outputTopics = [config.eventsTopic];
    const inventory = () => deps.inventory?.current;
    this.records = new RecordNormalizer(
      { inventory, allowUnregistered: config.allowUnregisteredSensors, defaultOrg: deps.defaultOrg },
      new Enricher({ inventory, geo: deps.geo, communityIdSeed: config.communityIdSeed }),
    );
    this.metrics = deps.registry ? normalizerMetrics(deps.registry) : undefined;
    this.encoder = new EventEncoder(deps.eventCodec);
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const out: OutgoingMessage[] = [];
    const deadLetters: DeadLetter[] = [];
    for (const message of batch.messages) {
      const dead = deadLetters.length;
      const produced = out.length;
      try {
        this.processOne(message, out, deadLetters);
      } catch (error) {
        if (isRetryable(error)) throw error;
        // Whole record to the DLQ: events it already produced are taken back so that it counts once.
        out.length = produced;
        deadLetters.length = dead;
        const code = error instanceof MamoriError ? error.code : ('RECORD_FAILED' satisfies StageErrorCode);
        deadLetters.push({ message, code, reason: `normalizing the record failed: ${errorMessage(error)}`, error });
      }
      this.metrics?.records.inc({ topic: message.topic, outcome: deadLetters.length > dead ? 'dead_lettered' : 'normalized' });
    }
    return { outputs: [{ topic: this.config.eventsTopic, messages: out }], deadLetters };
  }

  private processOne(message: ConsumedBatch['messages'][number], out: OutgoingMessage[], deadLetters: DeadLetter[]): void {
    const format = (this.deps.formatForTopic ?? formatForTopic)(message.topic);
    if (!format) {
      deadLetters.push({ message, code: 'FORMAT_UNKNOWN' satisfies StageErrorCode, reason: `no format is registered for topic ${message.topic}` });
      return;
    }
    if (!message.value || message.value.length === 0) {
      deadLetters.push({ message, code: 'RECORD_EMPTY' satisfies StageErrorCode, reason: 'record has no value' });
      return;
    }
    const sensorId = message.headers[SENSOR_ID_HEADER]?.toString('utf8') || message.key?.toString('utf8') || 'unknown';
    const result = this.records.normalizeEncoded(
      format,
      message.value,
      { topic: message.topic, partition: message.partition, offset: Number(message.offset), sensorId, ingestTime: message.timestamp },
      this.encoder,
    );
    if (result.rejected) {
      deadLetters.push({ message, code: result.rejected.code, reason: result.rejected.reason });
      return;
    }
    // The Kafka timestamp is when the record arrived, not event time: imported old data with old
    // timestamps would fall under the topic's time retention at once and be deleted unread.
    for (const { event, value } of result.events) {
      out.push({ key: eventKey(event), value, timestamp: message.timestamp });
    }
    if (result.events[0]) this.metrics?.sensorSeen(sensorId, result.events[0].event.org_id, result.events.length);
    if (result.errors.length > 0) {
      const first = result.errors[0]!;
      const reason = result.errors.length === 1 ? first.message : `${result.errors.length} bad lines; first: ${first.message}`;
      deadLetters.push({ message, code: first.code, reason });
    }
  }

  async close(): Promise<void> {
    this.deps.onClose?.();
  }
}
