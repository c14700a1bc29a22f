import type { EventCodec } from '@mamori/events';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import type { ConsumedBatch, OutgoingMessage } from '@mamori/transport';
import type { NormalizerConfig } from './config.ts';
import { formatForTopic, normalizeRecord } from './normalize.ts';

/**
 * Dead-letter codes this stage sets itself (the rest are `NormalizeErrorCode`s); listed in
 * docs/errors.md.
 *
 * - `FORMAT_UNKNOWN`: no format is registered for the record's topic (also a NormalizeErrorCode).
 * - `RECORD_EMPTY`: the record has no value (a tombstone or an empty produce).
 */
export const STAGE_ERROR_CODES = ['FORMAT_UNKNOWN', 'RECORD_EMPTY'] as const;
type StageErrorCode = (typeof STAGE_ERROR_CODES)[number];

/** Header naming the sensor that wrote a raw record (set by ingest entry points). */
export const SENSOR_ID_HEADER = 'mamori.sensor_id';

export interface NormalizerDeps {
  eventCodec: EventCodec;
  /** Organization of sensors the registry does not know yet. */
  defaultOrg: string;
}

/**
 * Raw sensor records to Avro `mamori.Event`s on the events topic, keyed by organization and source
 * address. A record with bad lines is dead-lettered whole (original bytes, every line's reason);
 * its good lines still become events, with ids that make a later replay of the record harmless.
 */
export class NormalizerStage implements Stage {
  readonly name = 'normalizer';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];

  constructor(
    private readonly config: NormalizerConfig,
    private readonly deps: NormalizerDeps,
  ) {
    this.inputTopics = config.rawTopics;
    this.outputTopics = [config.eventsTopic];
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const out: OutgoingMessage[] = [];
    const deadLetters: DeadLetter[] = [];
    for (const message of batch.messages) {
      const format = formatForTopic(message.topic);
      if (!format) {
        deadLetters.push({ message, code: 'FORMAT_UNKNOWN' satisfies StageErrorCode, reason: `no format is registered for topic ${message.topic}` });
        continue;
      }
      if (!message.value || message.value.length === 0) {
        deadLetters.push({ message, code: 'RECORD_EMPTY' satisfies StageErrorCode, reason: 'record has no value' });
        continue;
      }
      const sensorId = message.headers[SENSOR_ID_HEADER]?.toString('utf8') || message.key?.toString('utf8') || 'unknown';
      const result = normalizeRecord(format, message.value, {
        topic: message.topic,
        partition: message.partition,
        offset: Number(message.offset),
        sensorId,
        orgId: this.deps.defaultOrg,
        ingestTime: message.timestamp,
      });
      for (const event of result.events) {
        out.push({ key: `${event.org_id}|${event.src_ip}`, value: this.deps.eventCodec.encode(event), timestamp: event.time });
      }
      if (result.errors.length > 0) {
        const first = result.errors[0]!;
        const reason = result.errors.length === 1 ? first.message : `${result.errors.length} bad lines; first: ${first.message}`;
        deadLetters.push({ message, code: first.code, reason });
      }
    }
    return { outputs: [{ topic: this.config.eventsTopic, messages: out }], deadLetters };
  }
}
