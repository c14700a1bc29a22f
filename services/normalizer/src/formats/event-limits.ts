import { DATETIME64_MAX_MS, DATETIME64_MIN_MS } from '@mamori/core';
import { MAX_SAFE_LONG, type MamoriEvent } from '@mamori/events';

/**
 * What numbers an event can carry, shared by every format's field checks. A value beyond these
 * passed a format's checks, then failed the Avro encode (a long beyond ±(2^53 - 2), an int beyond
 * 32 bits, NaN) or the ClickHouse insert (a time outside DateTime64's range): one hostile line
 * failed its batch on every retry, or was dead-lettered only at the writer. Checked at parse time,
 * such a value is the format's FIELD_INVALID naming the field.
 */

/** Largest magnitude of an Avro long as the event codec writes it (avsc's bound: ±(2^53 - 2)). */
export const MAX_LONG = MAX_SAFE_LONG;
/** Avro int (32-bit signed). */
export const MIN_INT = -2147483648;
export const MAX_INT = 2147483647;
/** ClickHouse DateTime64's range, as the storage adapters check it before an insert: 1900-01-01 to 2299-12-31. */
export const MIN_EVENT_TIME_MS = DATETIME64_MIN_MS;
export const MAX_EVENT_TIME_MS = DATETIME64_MAX_MS;

/** An integer an Avro long holds. */
export function isLong(n: number): boolean {
  return Math.floor(n) === n && n >= -MAX_LONG && n <= MAX_LONG;
}

/** An integer an Avro int holds. */
export function isInt(n: number): boolean {
  return n === (n | 0);
}

/** Epoch ms that an event's `time` (ClickHouse DateTime64) can hold. */
export function isEventTimeMs(ms: number): boolean {
  return ms >= MIN_EVENT_TIME_MS && ms <= MAX_EVENT_TIME_MS;
}

type Opt<T> = T | null | undefined;

const optLong = (n: Opt<number>) => n === null || n === undefined || (typeof n === 'number' && isLong(n));
const optInt = (n: Opt<number>) => n === null || n === undefined || (typeof n === 'number' && isInt(n));

/**
 * The first numeric field of a decoded event that the schema or ClickHouse cannot hold (dotted
 * event field name), or undefined. The normalizer's backstop behind the formats' own field checks:
 * such an event becomes the record's FIELD_INVALID instead of failing the encode. Missing or
 * mistyped required fields are left to the codec (a decoder bug, not hostile input).
 */
export function outOfRangeField(e: MamoriEvent): string | undefined {
  if (typeof e.time === 'number' && !isEventTimeMs(e.time)) return 'time';
  if (!optLong(e.ingest_time)) return 'ingest_time';
  if (!optInt(e.src_port)) return 'src_port';
  if (!optInt(e.dst_port)) return 'dst_port';
  if (!optLong(e.bytes_out)) return 'bytes_out';
  if (!optLong(e.bytes_in)) return 'bytes_in';
  if (!optLong(e.packets_out)) return 'packets_out';
  if (!optLong(e.packets_in)) return 'packets_in';
  if (!optLong(e.duration_ms)) return 'duration_ms';
  const { process, dns, http, tls, ssh, file, alert } = e;
  if (process) {
    if (!optLong(process.pid)) return 'process.pid';
    if (!optLong(process.parent_pid)) return 'process.parent_pid';
  }
  if (dns && !optLong(dns.trans_id)) return 'dns.trans_id';
  if (http) {
    if (!optInt(http.status_code)) return 'http.status_code';
    if (!optLong(http.request_body_bytes)) return 'http.request_body_bytes';
    if (!optLong(http.response_body_bytes)) return 'http.response_body_bytes';
  }
  if (tls) {
    if (!optLong(tls.not_before)) return 'tls.not_before';
    if (!optLong(tls.not_after)) return 'tls.not_after';
  }
  if (ssh && !optInt(ssh.auth_attempts)) return 'ssh.auth_attempts';
  if (file && !optLong(file.size)) return 'file.size';
  if (alert) {
    if (!optLong(alert.signature_id)) return 'alert.signature_id';
    if (!optInt(alert.rev)) return 'alert.rev';
    if (!optLong(alert.gid)) return 'alert.gid';
    if (!optInt(alert.severity)) return 'alert.severity';
  }
  return undefined;
}

/** The value at a dotted event field, for messages. */
export function eventFieldValue(e: MamoriEvent, field: string): unknown {
  let node: unknown = e;
  for (const key of field.split('.')) node = (node as Record<string, unknown> | null | undefined)?.[key];
  return node;
}
