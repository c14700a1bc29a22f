import { deadLetterMessage } from '@mamori/pipeline';
import type { OutgoingMessage } from '@mamori/transport';

/**
 * A dead letter for a record that never reached its raw topic: the stage is `ingest`, the source
 * topic is the raw topic it was meant for, and partition/offset are -1 (there is none).
 */
export function ingestDeadLetter(rawTopic: string, record: { key: string; value: Buffer; headers: Record<string, string> }, code: string, reason: string): OutgoingMessage {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(record.headers)) headers[name] = Buffer.from(value, 'utf8');
  return deadLetterMessage('ingest', {
    message: { topic: rawTopic, partition: -1, offset: '-1', key: Buffer.from(record.key, 'utf8'), value: record.value, headers, timestamp: Date.now() },
    code,
    reason,
  });
}
