import type { ConsumedMessage, OutgoingMessage } from '@mamori/transport';

/** The topic every stage sends records it cannot handle to. */
export const DEAD_LETTER_TOPIC = 'telemetry.dlq';

/** Header names on a dead-lettered record; the value is the original bytes, untouched. */
export const DLQ_HEADERS = {
  stage: 'mamori.dlq.stage',
  code: 'mamori.dlq.error_code',
  message: 'mamori.dlq.error_message',
  topic: 'mamori.dlq.source_topic',
  partition: 'mamori.dlq.source_partition',
  offset: 'mamori.dlq.source_offset',
  time: 'mamori.dlq.time',
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
 * reason and source position as `mamori.dlq.*` headers.
 */
export function deadLetterMessage(stage: string, letter: DeadLetter, now = Date.now()): OutgoingMessage {
  const { message } = letter;
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      [DLQ_HEADERS.stage]: stage,
      [DLQ_HEADERS.code]: letter.code,
      [DLQ_HEADERS.message]: truncateUtf8(letter.reason, MAX_REASON_BYTES),
      [DLQ_HEADERS.topic]: message.topic,
      [DLQ_HEADERS.partition]: String(message.partition),
      [DLQ_HEADERS.offset]: message.offset,
      [DLQ_HEADERS.time]: String(now),
    },
  };
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
