import { CodecError, type EventCodec, type FieldWriter, type MamoriEvent } from '@mamori/events';
import type { EventHead, KnownAddresses } from './enrich/enricher.ts';
import { NormalizeError } from './formats/errors.ts';
import { eventFieldValue, outOfRangeField } from './formats/event-limits.ts';
import { FORMATS } from './formats/registry.ts';
import type { DecodeContext, DecodeResult, SensorFormat } from './formats/types.ts';

/** Records above this many bytes are refused unless the format sets its own limit. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

const byTopic = new Map<string, SensorFormat>();
for (const format of FORMATS) {
  for (const topic of format.topics) {
    const existing = byTopic.get(topic);
    if (existing) throw new Error(`formats ${existing.id} and ${format.id} both claim topic ${topic}`);
    byTopic.set(topic, format);
  }
}

/** The format registered for a raw topic, or undefined. */
export function formatForTopic(topic: string): SensorFormat | undefined {
  return byTopic.get(topic);
}

/**
 * Decodes one raw record with `format`. Never throws: oversized records, bad lines and even a
 * decoder bug come back as NormalizeErrors for the runner to count and dead-letter.
 */
export function normalizeRecord(format: SensorFormat, bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const limit = format.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (bytes.length > limit) {
    return { events: [], errors: [new NormalizeError('RECORD_TOO_LARGE', `${format.id} record of ${bytes.length} bytes exceeds ${limit}`)] };
  }
  let result: DecodeResult;
  try {
    result = format.decode(bytes, ctx);
  } catch (cause) {
    return { events: [], errors: [new NormalizeError('FORMAT_FAILED', `${format.id} decoder failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })] };
  }
  return screenEvents(format, result);
}

/**
 * The backstop behind the formats' own field checks: an event with a number the schema or
 * ClickHouse cannot hold (a time outside 1900-2299, a long beyond ±(2^53 - 2), an int beyond 32
 * bits, NaN) is taken out and reported as FIELD_INVALID naming the event field, so that it is
 * dead-lettered at parse time instead of failing the Avro encode (or, for times, the insert).
 */
function screenEvents(format: SensorFormat, result: DecodeResult): DecodeResult {
  let bad = -1;
  for (let i = 0; i < result.events.length; i++) {
    if (outOfRangeField(result.events[i]!) !== undefined) {
      bad = i;
      break;
    }
  }
  if (bad < 0) return result;
  const events: MamoriEvent[] = result.events.slice(0, bad);
  const errors = [...result.errors];
  for (let i = bad; i < result.events.length; i++) {
    const event = result.events[i]!;
    const field = outOfRangeField(event);
    if (field === undefined) {
      events.push(event);
      continue;
    }
    const value = eventFieldValue(event, field);
    errors.push(new NormalizeError('FIELD_INVALID', `${format.id} event ${i} of the record: ${field} is out of range for an event: ${String(value)}`, { field }));
  }
  return result.skipped === undefined ? { events, errors } : { events, errors, skipped: result.skipped };
}

/** One event for the events topic: the event (without its attributes when the fused path made it) and its Avro bytes. */
export interface EncodedEvent {
  readonly event: EventHead;
  readonly value: Buffer;
}

/**
 * What one raw record became, encoded: as {@link DecodeResult}, with each event's Avro value.
 * `errors` also holds a CodecError (AVRO_ENCODE_FAILED) for each event the codec refused: that
 * event is left out and the record dead-lettered, the record's other events still go on.
 */
export interface EncodedResult {
  readonly events: EncodedEvent[];
  readonly errors: (NormalizeError | CodecError)[];
  readonly skipped?: number;
}

/** The events codec, with the encoder the formats' fused paths write through (attributes by the format). */
export class EventEncoder {
  /** undefined when the codec cannot split (a schema avsc encodes): every record takes the general path. */
  private readonly split: ((value: Omit<MamoriEvent, 'attributes'>, writeField: FieldWriter) => Buffer) | undefined;

  constructor(readonly codec: EventCodec) {
    this.split = codec.splitEncoder('attributes');
  }

  /** The Avro value of an event whose attributes `writeAttributes` writes; undefined when it cannot be encoded so. */
  encodeFused(event: EventHead, writeAttributes: FieldWriter): Buffer | undefined {
    if (!this.split) return undefined;
    try {
      return this.split(event, writeAttributes);
    } catch {
      // The general path encodes the record again and throws the codec's error, as before.
      return undefined;
    }
  }
}

/**
 * Decodes one raw record with `format`, enriches its events with `enrich` and encodes them: through
 * the format's fused path when it has one and takes the record (same bytes, no parsed object, no
 * attributes object), else `normalizeRecord` and `EventCodec.encode`. Errors as `normalizeRecord`,
 * plus a CodecError (AVRO_ENCODE_FAILED) in `errors` for an event the codec refuses (a value the
 * format let through that the schema cannot hold): one bad event never throws, so it can never fail
 * the batch and stall its partition on every retry.
 */
export function normalizeRecordEncoded(
  format: SensorFormat,
  bytes: Buffer,
  ctx: DecodeContext,
  encoder: EventEncoder,
  enrich?: (event: EventHead, known?: Readonly<KnownAddresses>) => void,
): EncodedResult {
  const fused = format.fused;
  if (fused !== undefined && bytes.length <= (format.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES)) {
    let event: EventHead | undefined;
    try {
      event = fused.decode(bytes, ctx);
    } catch {
      // A fused-path bug must not lose the record: the general path decodes it (and reports its errors).
      event = undefined;
    }
    if (event !== undefined) {
      enrich?.(event, fused.addresses);
      const value = encoder.encodeFused(event, fused.writeAttributes);
      if (value !== undefined) return { events: [{ event, value }], errors: [] };
    }
  }
  const result = normalizeRecord(format, bytes, ctx);
  const events: EncodedEvent[] = [];
  let errors: (NormalizeError | CodecError)[] = result.errors;
  for (let i = 0; i < result.events.length; i++) {
    const event = result.events[i]!;
    enrich?.(event);
    let value: Buffer;
    try {
      value = encoder.codec.encode(event);
    } catch (cause) {
      if (errors === result.errors) errors = [...result.errors];
      const detail = cause instanceof Error ? cause.message : String(cause);
      errors.push(new CodecError('AVRO_ENCODE_FAILED', `${format.id} event ${i} of the record (${String(event.event_id)}) cannot be encoded: ${detail}`, { cause }));
      continue;
    }
    events.push({ event, value });
  }
  return result.skipped === undefined ? { events, errors } : { events, errors, skipped: result.skipped };
}

export { NORMALIZE_ERROR_CODES, NormalizeError, type NormalizeErrorCode } from './formats/errors.ts';
export { FORMATS } from './formats/registry.ts';
export type { DecodeContext, DecodeResult, FusedDecoder, SensorFormat } from './formats/types.ts';
