import { isIPv6 } from 'node:net';
import type { MamoriEvent } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../event-id.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { isZeekTsv, zeekTsvRecords } from '../zeek/tsv.ts';
import { jsonText } from '../text.ts';
import { forEachJsonObject } from '../json.ts';
import { isIPv4 } from '../zeek/fields.ts';
import { isEventTimeMs, MAX_LONG } from '../event-limits.ts';
import { isIpv6Flow, protocolOfName } from '../protocol.ts';

export const ZEEK_CONN_FORMAT_ID = 'zeek.conn';

type Json = Record<string, unknown>;

/** Fields mapped onto event columns; every other field goes to `attributes` as a string. */
const MAPPED = new Set([
  'ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'id_orig_h', 'id_orig_p', 'id_resp_h', 'id_resp_p', 'id',
  'proto', 'duration', 'orig_bytes', 'resp_bytes', 'orig_pkts', 'resp_pkts', 'conn_state', 'community_id',
]);

export class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/**
 * The raw values of the mapped fields, as JSON.parse gives them (undefined: absent), read once per
 * record. One scratch instance: decoding is synchronous and the values are consumed before the next line.
 */
export interface ConnFields {
  ts: unknown;
  origH: unknown;
  origP: unknown;
  respH: unknown;
  respP: unknown;
  proto: unknown;
  duration: unknown;
  origBytes: unknown;
  respBytes: unknown;
  origPkts: unknown;
  respPkts: unknown;
  connState: unknown;
  communityId: unknown;
  /**
   * `origH` and `respH` as IPv4 values (ipv4BytesToUint32) when the caller already read them from
   * the record's bytes, else -1 (check the text). Only the fused path sets them.
   */
  origV4: number;
  respV4: number;
}

const fields: ConnFields = {
  ts: undefined, origH: undefined, origP: undefined, respH: undefined, respP: undefined, proto: undefined, duration: undefined,
  origBytes: undefined, respBytes: undefined, origPkts: undefined, respPkts: undefined, connState: undefined, communityId: undefined,
  origV4: -1, respV4: -1,
};

/** Zeek writes `id.orig_h`; some shippers flatten to `id_orig_h` or nest under `id`. */
export function idField(dotted: unknown, underscored: unknown, id: unknown, name: 'orig_h' | 'orig_p' | 'resp_h' | 'resp_p'): unknown {
  if (dotted !== undefined) return dotted;
  if (underscored !== undefined) return underscored;
  return id !== null && typeof id === 'object' ? (id as Json)[name] : undefined;
}

/** `v4` ≥ 0: `value` is that IPv4 address's text, already read by the rule isIPv4 applies. */
function address(value: unknown, field: string, v4: number): string {
  if (typeof value === 'string' && (v4 >= 0 || isIPv4(value) || (value.includes(':') && isIPv6(value)))) return value;
  throw new FieldError(field, `${field} is not an IP address: ${jsonText(value)}`);
}

function port(value: unknown, field: string): number {
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  throw new FieldError(field, `${field} is not a port (0..65535): ${jsonText(value)}`);
}


/** Optional non-negative number: absent or null (Zeek's unset) is 0. */
function nonNegative(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return n;
  throw new FieldError(field, `${field} is not a non-negative number: ${jsonText(value)}`);
}

/**
 * `n` rounded, when an event can carry it (an Avro long). A larger value used to pass here and fail
 * the Avro encode, which failed the whole batch, again on every retry.
 */
function long(n: number, field: string, value: unknown): number {
  const rounded = Math.round(n);
  if (rounded <= MAX_LONG) return rounded;
  throw new FieldError(field, `${field} is out of range: ${jsonText(value)}`);
}

function count(value: unknown, field: string): number {
  return long(nonNegative(value, field), field, value);
}

/** Zeek `ts`: epoch seconds (float, microsecond precision) or an ISO 8601 string; to epoch ms. */
function timestamp(value: unknown): number {
  let ms = Number.NaN;
  if (typeof value === 'number') {
    ms = Math.floor(Math.round(value * 1e6) / 1000);
  } else if (typeof value === 'string') {
    const numeric = Number(value);
    ms = value !== '' && Number.isFinite(numeric) ? Math.floor(Math.round(numeric * 1e6) / 1000) : Date.parse(value);
  }
  if (isEventTimeMs(ms)) return ms;
  throw new FieldError('ts', `ts is not epoch seconds or an ISO time between 1900 and 2299: ${jsonText(value)}`);
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw new FieldError(field, `${field} is not a string: ${jsonText(value)}`);
}

function attributeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  // Numbers and booleans (most non-string conn fields) without the generic String() call: same text.
  if (typeof value === 'number') return '' + value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : jsonText(v))).join(',');
  return typeof value === 'object' ? jsonText(value) : String(value);
}

/**
 * The checks and the event, from `fields` and the attributes already collected (the fused path,
 * fast.ts, passes none: it writes them as bytes); throws FieldError.
 */
export function buildEvent<A>(f: ConnFields, attributes: A, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): Omit<MamoriEvent, 'attributes'> & { attributes: A } {
  const proto = f.proto;
  if (typeof proto !== 'string' || proto === '') throw new FieldError('proto', `proto is missing or not a string: ${jsonText(proto)}`);
  const durationMs = long(nonNegative(f.duration, 'duration') * 1000, 'duration', f.duration);
  // Checked in the order of the event's fields: the first bad one is the error reported.
  const time = timestamp(f.ts);
  const srcIp = address(f.origH, 'id.orig_h', f.origV4);
  return {
    event_id: eventIdAt(prefix, line),
    event_class: 'network_activity',
    time,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: ZEEK_CONN_FORMAT_ID,
    src_ip: srcIp,
    src_port: port(f.origP, 'id.orig_p'),
    dst_ip: address(f.respH, 'id.resp_h', f.respV4),
    dst_port: port(f.respP, 'id.resp_p'),
    // Zeek says `icmp` for ICMPv6 too: the address family tells them apart (f.origV4 ≥ 0: read as IPv4).
    protocol: protocolOfName(proto, f.origV4 < 0 && isIpv6Flow(srcIp)),
    bytes_out: count(f.origBytes, 'orig_bytes'),
    bytes_in: count(f.respBytes, 'resp_bytes'),
    packets_out: count(f.origPkts, 'orig_pkts'),
    packets_in: count(f.respPkts, 'resp_pkts'),
    duration_ms: durationMs,
    conn_state: optionalString(f.connState, 'conn_state'),
    community_id: optionalString(f.communityId, 'community_id'),
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
  };
}

/** One parsed Zeek conn object to an event; throws FieldError for the caller to report. */
export function connToEvent(o: Json, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const f = fields;
  const id = o['id'];
  f.ts = o['ts'];
  f.origH = idField(o['id.orig_h'], o['id_orig_h'], id, 'orig_h');
  f.origP = idField(o['id.orig_p'], o['id_orig_p'], id, 'orig_p');
  f.respH = idField(o['id.resp_h'], o['id_resp_h'], id, 'resp_h');
  f.respP = idField(o['id.resp_p'], o['id_resp_p'], id, 'resp_p');
  f.proto = o['proto'];
  f.duration = o['duration'];
  f.origBytes = o['orig_bytes'];
  f.respBytes = o['resp_bytes'];
  f.origPkts = o['orig_pkts'];
  f.respPkts = o['resp_pkts'];
  f.connState = o['conn_state'];
  f.communityId = o['community_id'];
  const attributes: Record<string, string> = {};
  for (const key in o) {
    if (!MAPPED.has(key)) {
      const value = o[key];
      if (value !== undefined && value !== null) attributes[key] = attributeValue(value);
    }
  }
  return buildEvent(f, attributes, ctx, prefix, line);
}

function convert(o: Json, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number, out: DecodeResult): void {
  try {
    out.events.push(connToEvent(o, ctx, prefix, line));
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    out.errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
  }
}

/** Zeek TSV conn logs: each data line as the JSON Zeek would have written (line index = TSV line). */
function decodeTsv(text: string, ctx: DecodeContext, prefix: Readonly<FnvState>, out: DecodeResult): void {
  for (const item of zeekTsvRecords(text)) {
    const line = item.lineNumber;
    if (item.kind === 'error') out.errors.push(new NormalizeError('PARSE_FAILED', item.message, { line }));
    else if (item.path !== '' && !CONN_PATHS.has(item.path)) {
      out.errors.push(new NormalizeError('PARSE_FAILED', `line ${line}: a #path ${item.path} log is not ${ZEEK_CONN_FORMAT_ID}`, { line }));
    } else convert(item.record, ctx, prefix, line, out);
  }
}

/** TSV `#path` values with conn columns (RITA writes still-open connections as `open_conn`). */
export const CONN_PATHS: ReadonlySet<string> = new Set(['conn', 'open_conn']);

/**
 * Zeek conn JSON (or a Zeek TSV conn log with its header) to events. A record holds one JSON object (possibly pretty-printed) or NDJSON lines;
 * line i becomes the event with id FNV-1a(topic:partition:offset:i). Blank lines are skipped (they
 * keep their index). A bad line yields an error for that line only.
 */
export function decodeZeekConn(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  // A record opening with `{` cannot be TSV (its header opens with optional space and `#separator`).
  if (text.charCodeAt(0) !== 123 && isZeekTsv(text)) {
    decodeTsv(text, ctx, prefix, out);
    return out;
  }
  forEachJsonObject(
    text,
    (o, line) => convert(o, ctx, prefix, line, out),
    (error) => out.errors.push(error),
  );
  return out;
}
