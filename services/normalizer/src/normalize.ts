import { NormalizeError } from './formats/errors.ts';
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
  try {
    return format.decode(bytes, ctx);
  } catch (cause) {
    return { events: [], errors: [new NormalizeError('FORMAT_FAILED', `${format.id} decoder failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })] };
  }
}

export { NORMALIZE_ERROR_CODES, NormalizeError, type NormalizeErrorCode } from './formats/errors.ts';
export { FORMATS } from './formats/registry.ts';
export type { DecodeContext, DecodeResult, SensorFormat } from './formats/types.ts';
