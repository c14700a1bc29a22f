import { isIP } from 'node:net';
import type { MamoriEvent } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../../event-id.ts';
import { NormalizeError } from '../../errors.ts';
import type { DecodeContext, DecodeResult } from '../../types.ts';
import { jsonText } from '../../text.ts';
import { MAX_EVENT_TIME_MS, MAX_LONG } from '../../event-limits.ts';
import { protocolOfNumber } from '../../protocol.ts';

export const NETFLOW_FLOW_FORMAT_ID = 'netflow.flow';

type Json = Record<string, unknown>;

/** Bounds on what a record may put into `attributes` (the ingest decoder already bounds `fields`). */
const MAX_ATTRIBUTES = 96;
const MAX_ATTRIBUTE_CHARS = 1024;

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function address(o: Json, field: string): string {
  const value = o[field];
  if (typeof value === 'string' && isIP(value) !== 0) return value;
  throw new FieldError(field, `${field} is not an IP address: ${jsonText(value)}`);
}

/** An integer in 0..max; @default max: an Avro long's bound (a larger count used to fail the encode, and the batch). */
function integer(o: Json, field: string, max = MAX_LONG, fallback?: number): number {
  const value = o[field];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  throw new FieldError(field, `${field} is not an integer in 0..${max}: ${jsonText(value)}`);
}

/** Epoch ms from 1970 up to 2299 (ClickHouse DateTime64's end; a later start or end has no place in an event). */
function epochMs(o: Json, field: string): number {
  const value = o[field];
  if (typeof value === 'number' && value >= 0 && value <= MAX_EVENT_TIME_MS) return Math.floor(value);
  throw new FieldError(field, `${field} is not epoch milliseconds between 1970 and 2299: ${jsonText(value)}`);
}

function attribute(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : typeof value === 'object' ? jsonText(value) : String(value);
  return text.length > MAX_ATTRIBUTE_CHARS ? text.slice(0, MAX_ATTRIBUTE_CHARS) : text;
}

/** One flow record (as the ingest NetFlow collector writes it) to a `network_activity` event. */
export function flowToEvent(o: Json, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const start = epochMs(o, 'start_ms');
  const end = o['end_ms'] === undefined ? start : epochMs(o, 'end_ms');
  const protocol = integer(o, 'protocol', 255, 0);
  const attributes: Record<string, string> = {};
  let count = 0;
  const put = (key: string, value: unknown): void => {
    const text = attribute(value);
    if (text !== undefined && count < MAX_ATTRIBUTES) {
      attributes[key] = text;
      count++;
    }
  };
  put('exporter', o['exporter']);
  put('netflow_version', o['version']);
  put('observation_domain', o['observation_domain']);
  put('template_id', o['template_id']);
  put('input_if', o['input_if']);
  put('output_if', o['output_if']);
  put('tcp_flags', o['tcp_flags']);
  put('flow_direction', o['direction']);
  put('sampling_interval', o['sampling_interval']);
  const fields = o['fields'];
  if (fields !== null && typeof fields === 'object' && !Array.isArray(fields)) {
    for (const [key, value] of Object.entries(fields as Json)) put(`netflow.${key}`, value);
  }
  return {
    event_id: eventIdAt(prefix, line),
    event_class: 'network_activity',
    time: start,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: NETFLOW_FLOW_FORMAT_ID,
    src_ip: address(o, 'src_ip'),
    src_port: integer(o, 'src_port', 65535, 0),
    dst_ip: address(o, 'dst_ip'),
    dst_port: integer(o, 'dst_port', 65535, 0),
    protocol: protocolOfNumber(protocol),
    // A NetFlow/IPFIX record counts one direction: src → dst. The reverse direction is its own record.
    bytes_out: integer(o, 'bytes', MAX_LONG, 0),
    bytes_in: 0,
    packets_out: integer(o, 'packets', MAX_LONG, 0),
    packets_in: 0,
    duration_ms: Math.max(0, end - start),
    conn_state: null,
    community_id: null,
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
  };
}

/**
 * NetFlow/IPFIX flow records, one JSON object per line (one Kafka record per exporter datagram).
 * Line i becomes the event with id FNV-1a(topic:partition:offset:i); a bad line is an error for that
 * line only.
 */
export function decodeNetflowFlow(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  let start = 0;
  for (let line = 0; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const chunk = text.slice(start, end).trim();
    start = end + 1;
    if (chunk === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(chunk);
    } catch (cause) {
      out.errors.push(new NormalizeError('PARSE_FAILED', `line ${line}: not JSON (${(cause as Error).message})`, { line, cause }));
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      out.errors.push(new NormalizeError('PARSE_FAILED', `line ${line}: not a JSON object`, { line }));
      continue;
    }
    try {
      out.events.push(flowToEvent(value as Json, ctx, prefix, line));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      out.errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
    }
  }
  return out;
}

/** Content sniffing: JSON lines carrying the collector's flow shape (`exporter`, `template_id`, `start_ms`, `src_ip`). */
export function sniffNetflowFlow(head: string): number {
  let seen = 0;
  let matched = 0;
  for (const raw of head.split('\n', 20)) {
    const chunk = raw.trim();
    if (chunk === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(chunk);
    } catch {
      continue; // the last line of a head may be cut
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return 0;
    seen++;
    const r = o as Json;
    if (typeof r['exporter'] === 'string' && typeof r['template_id'] === 'number' && typeof r['start_ms'] === 'number' && 'src_ip' in r && typeof r['fields'] === 'object') matched++;
  }
  return seen === 0 ? 0 : matched / seen;
}
