import { createHash } from 'node:crypto';
import { recordBytes, type ConsumedMessage, type OutgoingMessage, type TopicSpec } from '@mamori/transport';

/** The topic every stage sends records it cannot handle to. */
export const DEAD_LETTER_TOPIC = 'telemetry.dlq';

/**
 * The largest record Mamori creates the dead-letter topic for (its `max.message.bytes`, 8 MiB;
 * `MAMORI_DLQ_MAX_MESSAGE_BYTES`). A dead letter is the original record plus `mamori.dlq.*` headers,
 * so the dead-letter topic must take more than the raw topics do (Kafka's default, 1 MiB, on each):
 * with the broker's default on the dead-letter topic too, a record near 1 MiB could not be
 * dead-lettered, and its partition stalled.
 */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The dead-letter topic as Mamori creates it: room for records up to `maxMessageBytes`. */
export function deadLetterTopicSpec(maxMessageBytes = DEAD_LETTER_MAX_MESSAGE_BYTES, topic = DEAD_LETTER_TOPIC): TopicSpec {
  return { topic, config: { 'max.message.bytes': String(maxMessageBytes) } };
}

/** Bytes left for a record's framing (record and batch headers) when a dead letter is sized. */
const FRAMING_BYTES = 1024;

/** Header names on a dead-lettered record; the value is the original bytes, untouched. */
export const DLQ_HEADERS = {
  stage: 'mamori.dlq.stage',
  code: 'mamori.dlq.error_code',
  message: 'mamori.dlq.error_message',
  topic: 'mamori.dlq.source_topic',
  partition: 'mamori.dlq.source_partition',
  offset: 'mamori.dlq.source_offset',
  time: 'mamori.dlq.time',
  /** Only on a dead letter whose value was cut to fit the topic: the original value's length and SHA-256 (hex). */
  valueBytes: 'mamori.dlq.value_bytes',
  valueSha256: 'mamori.dlq.value_sha256',
  /** Only when the original headers had to be left out to fit (their count). */
  headersDropped: 'mamori.dlq.headers_dropped',
} as const;

/** A record a stage could not handle, with the reason. */
export interface DeadLetter {
  readonly message: ConsumedMessage;
  /** Stable error code (docs/errors.md). */
  readonly code: string;
  readonly reason: string;
  /** The error behind it, when one was thrown: logged with its stack (never written to the topic). */
  readonly error?: unknown;
}

const MAX_REASON_BYTES = 2048;

/**
 * Builds the dead-letter record: original key and value bytes, the original headers, and the
 * reason and source position as `mamori.dlq.*` headers. A record that would not fit the dead-letter
 * topic (`maxMessageBytes`, its `max.message.bytes`) is cut to fit rather than refused on every
 * retry (which stalls its partition): first its value, which then carries the original length and
 * SHA-256 (`mamori.dlq.value_bytes`, `mamori.dlq.value_sha256`); if the headers alone are too big,
 * the original headers are left out too (`mamori.dlq.headers_dropped`).
 */
export function deadLetterMessage(stage: string, letter: DeadLetter, now = Date.now(), maxMessageBytes = DEAD_LETTER_MAX_MESSAGE_BYTES): OutgoingMessage {
  const { message } = letter;
  const own: Record<string, string> = {
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.code]: letter.code,
    [DLQ_HEADERS.message]: truncateUtf8(letter.reason, MAX_REASON_BYTES),
    [DLQ_HEADERS.topic]: message.topic,
    [DLQ_HEADERS.partition]: String(message.partition),
    [DLQ_HEADERS.offset]: message.offset,
    [DLQ_HEADERS.time]: String(now),
  };
  const whole: OutgoingMessage = { key: message.key, value: message.value, headers: { ...message.headers, ...own } };
  const valueBytes = message.value?.length ?? 0;
  const room = maxMessageBytes - FRAMING_BYTES;
  if (recordBytes(whole) <= room) return whole;
  // Too big: cut the value (the markers' own size counted), then, if need be, leave the original headers out.
  const sha256 = createHash('sha256')
    .update(message.value ?? Buffer.alloc(0))
    .digest('hex');
  const marked = { ...own, [DLQ_HEADERS.valueBytes]: String(valueBytes), [DLQ_HEADERS.valueSha256]: sha256 };
  let headers: Record<string, string | Buffer> = { ...message.headers, ...marked };
  let left = room - recordBytes({ key: message.key, value: null, headers });
  if (left < 0) {
    headers = { ...marked, [DLQ_HEADERS.headersDropped]: String(Object.keys(message.headers).length) };
    left = Math.max(0, room - recordBytes({ key: message.key, value: null, headers }));
  }
  const value = message.value === null ? null : message.value.subarray(0, Math.min(valueBytes, left));
  return { key: message.key, value, headers };
}

/** Whether {@link deadLetterMessage} cut the record to fit (its value or headers). */
export function isCutDeadLetter(message: OutgoingMessage): boolean {
  return message.headers !== undefined && DLQ_HEADERS.valueBytes in message.headers;
}


/** A dead-lettered record read back, for tools and tests. */
export interface DeadLetterInfo {
  stage: string;
  code: string;
  reason: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  value: Buffer | null;
}

export function readDeadLetter(message: ConsumedMessage): DeadLetterInfo {
  const h = (name: string): string => message.headers[name]?.toString('utf8') ?? '';
  return {
    stage: h(DLQ_HEADERS.stage),
    code: h(DLQ_HEADERS.code),
    reason: h(DLQ_HEADERS.message),
    sourceTopic: h(DLQ_HEADERS.topic),
    sourcePartition: Number(h(DLQ_HEADERS.partition)),
    sourceOffset: h(DLQ_HEADERS.offset),
    value: message.value,
  };
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  return bytes.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '') + '…';
}
