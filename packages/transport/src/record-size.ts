import type { OutgoingMessage } from './types.ts';

/** Per-record framing in a v2 record batch (length, attributes, deltas, counts as varints), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * An upper bound of the bytes a record takes in a Kafka record batch (uncompressed): key, value,
 * header names and values, and their framing. What a producer splits requests by, and what a
 * record must stay under to fit a topic's `max.message.bytes` (with the batch header beside it).
 */
export function recordBytes(message: OutgoingMessage): number {
  let n = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  const headers = message.headers;
  if (headers !== undefined) {
    for (const name in headers) n += 8 + Buffer.byteLength(name) + byteLength(headers[name]);
  }
  return n;
}
