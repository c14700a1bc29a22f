import { createHash } from 'node:crypto';
import type { ConsumedMessage, OutgoingMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_MAX_MESSAGE_BYTES, DLQ_HEADERS, deadLetterMessage, deadLetterTopicSpec, isCutDeadLetter, readDeadLetter } from './dead-letter.ts';

function consumed(value: Buffer, headers: Record<string, Buffer> = { 'mamori.sensor_id': Buffer.from('sensor-a') }): ConsumedMessage {
  return { topic: 'telemetry.raw.zeek.conn', partition: 2, offset: '41', key: Buffer.from('sensor-a'), value, headers, timestamp: 0 } as unknown as ConsumedMessage;
}

/** Key, value and header bytes of a record (what the size bound counts, without framing). */
function size(m: OutgoingMessage): number {
  let n = Buffer.byteLength(m.key as Buffer) + (m.value === null ? 0 : Buffer.byteLength(m.value));
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

const asConsumed = (m: OutgoingMessage): ConsumedMessage => ({ ...consumed(m.value as Buffer), headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)])) }) as ConsumedMessage;

describe('dead-letter records', () => {
  it('keep the original record whole when it fits, with the reason and source position', () => {
    const value = Buffer.alloc(1_000_000, 0x41);
    const m = deadLetterMessage('normalizer', { message: consumed(value), code: 'PARSE_FAILED', reason: 'not JSON' }, 5);
    expect(isCutDeadLetter(m)).toBe(false);
    expect(m.value).toBe(value);
    expect(m.headers?.['mamori.sensor_id']?.toString()).toBe('sensor-a');
    expect(readDeadLetter(asConsumed(m))).toMatchObject({ stage: 'normalizer', code: 'PARSE_FAILED', reason: 'not JSON', sourceTopic: 'telemetry.raw.zeek.conn', sourcePartition: 2, sourceOffset: '41' });
    expect(m.headers?.[DLQ_HEADERS.valueBytes]).toBeUndefined();
  });

  it('cut a record that would not fit the topic, with the original length and SHA-256', () => {
    const value = Buffer.from(Array.from({ length: 1_047_000 }, (_, i) => i % 251));
    const max = 1_048_576;
    const m = deadLetterMessage('normalizer', { message: consumed(value), code: 'PARSE_FAILED', reason: 'x'.repeat(5000) }, 5, max);
    expect(isCutDeadLetter(m)).toBe(true);
    expect(size(m)).toBeLessThanOrEqual(max - 1024);
    expect(size(m)).toBeGreaterThan(max - 1024 - 2048);
    const cut = m.value as Buffer;
    expect(value.subarray(0, cut.length).equals(cut)).toBe(true);
    expect(m.headers?.[DLQ_HEADERS.valueBytes]).toBe('1047000');
    expect(m.headers?.[DLQ_HEADERS.valueSha256]).toBe(createHash('sha256').update(value).digest('hex'));
    expect(m.headers?.['mamori.sensor_id']?.toString()).toBe('sensor-a');
    expect(m.headers?.[DLQ_HEADERS.code]).toBe('PARSE_FAILED');
  });

  it('leave the original headers out when they alone do not fit, and say how many', () => {
    const headers: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) headers[`h${i}`] = Buffer.alloc(2000, 0x61);
    const m = deadLetterMessage('normalizer', { message: consumed(Buffer.alloc(10_000, 1), headers), code: 'RECORD_TOO_LARGE', reason: 'too large' }, 5, 65_536);
    expect(size(m)).toBeLessThanOrEqual(65_536 - 1024);
    expect(m.headers?.[DLQ_HEADERS.headersDropped]).toBe('40');
    expect(m.headers?.['h0']).toBeUndefined();
    expect(m.headers?.[DLQ_HEADERS.valueBytes]).toBe('10000');
    expect((m.value as Buffer).length).toBeGreaterThan(0);
    expect(m.headers?.[DLQ_HEADERS.stage]).toBe('normalizer');
  });

  it('are created on a topic with room for them', () => {
    expect(deadLetterTopicSpec()).toEqual({ topic: 'telemetry.dlq', config: { 'max.message.bytes': String(DEAD_LETTER_MAX_MESSAGE_BYTES) } });
    expect(DEAD_LETTER_MAX_MESSAGE_BYTES).toBeGreaterThan(1_048_588 + 4096);
  });
});
