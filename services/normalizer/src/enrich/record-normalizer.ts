import type { CodecError, MamoriEvent } from '@mamori/events';
import { normalizeRecord, normalizeRecordEncoded, type EncodedEvent, type EventEncoder } from '../normalize.ts';
import type { NormalizeError } from '../formats/errors.ts';
import type { DecodeContext, SensorFormat } from '../formats/types.ts';
import type { Enricher } from './enricher.ts';
import { resolveSensor, type SensorErrorCode, type SensorPolicy } from './sensors.ts';

/** Where a raw record came from. */
export interface RecordSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sensorId: string;
  /** When the record entered the pipeline, epoch ms. */
  readonly ingestTime: number;
}

/**
 * What one raw record became. `rejected` is set when the sensor check refused the whole record
 * (nothing was decoded); `errors` are the decoder's per-line problems (good lines still produced
 * events).
 */
export interface RecordOutcome {
  readonly events: MamoriEvent[];
  readonly errors: NormalizeError[];
  readonly rejected?: { readonly code: SensorErrorCode; readonly reason: string };
  /** Well-formed lines that are not events (e.g. Suricata `stats`), as the format reported them. @default 0 */
  readonly skipped?: number;
}

/** {@link RecordOutcome} with each event's Avro value; `errors` also names events the codec refused (AVRO_ENCODE_FAILED). */
export interface EncodedOutcome {
  readonly events: EncodedEvent[];
  readonly errors: (NormalizeError | CodecError)[];
  readonly rejected?: { readonly code: SensorErrorCode; readonly reason: string };
}

/**
 * The normalizer's per-record work, shared by the stage and `mamori normalize`: check the sensor
 * against the registry, decode with the format, stamp organization and site, enrich.
 */
export class RecordNormalizer {
  constructor(
    private readonly policy: SensorPolicy,
    private readonly enricher: Enricher,
  ) {}

  normalize(format: SensorFormat, bytes: Buffer, source: RecordSource): RecordOutcome {
    const owner = resolveSensor(this.policy, source.sensorId, format.id);
    if (!owner.ok) return { events: [], errors: [], rejected: { code: owner.code, reason: owner.reason } };
    const result = normalizeRecord(format, bytes, decodeContext(source, owner.orgId));
    for (const event of result.events) this.enricher.enrich(event, owner.siteId);
    return result;
  }

  /** As {@link normalize}, with each event encoded (through the format's fused path when it takes the record). */
  normalizeEncoded(format: SensorFormat, bytes: Buffer, source: RecordSource, encoder: EventEncoder): EncodedOutcome {
    const owner = resolveSensor(this.policy, source.sensorId, format.id);
    if (!owner.ok) return { events: [], errors: [], rejected: { code: owner.code, reason: owner.reason } };
    const siteId = owner.siteId;
    return normalizeRecordEncoded(format, bytes, decodeContext(source, owner.orgId), encoder, (event, known) => this.enricher.enrich(event, siteId, known));
  }
}

/**
 * The decoder's context of a record, property by property rather than `{ ...source, orgId }`: on
 * Node 20 an object spread followed by a property costs ~2 µs per call (measured: 2.0-2.2 µs vs
 * 25-40 ns written out), a sixth of the stage's per-record CPU.
 */
function decodeContext(source: RecordSource, orgId: string): DecodeContext {
  return { topic: source.topic, partition: source.partition, offset: source.offset, sensorId: source.sensorId, orgId, ingestTime: source.ingestTime };
}
