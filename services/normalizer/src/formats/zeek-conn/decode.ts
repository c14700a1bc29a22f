import { isIPv6 } from 'node:net';
import type { MamoriEvent } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../event-id.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { isZeekTsv, zeekTsvRecords } from '../zeek/tsv.ts';
import { jsonText } from '../text.ts';

export const ZEEK_CONN_FORMAT_ID = 'zeek.conn';

type Json = Record<string, unknown>;

/** Fields mapped onto event columns; every other field goes to `attributes` as a string. */
const MAPPED = new Set([
  'ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'id_orig_h', 'id_orig_p', 'id_resp_h', 'id_resp_p', 'id',
  'proto', 'duration', 'orig_bytes', 'resp_bytes', 'orig_pkts', 'resp_pkts', 'conn_state', 'community_id',
]);

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/**
 * The raw values of the mapped fields, as JSON.parse gives them (undefined: absent). Both the
 * JSON.parse path and the flat-line scanner fill it, so the checks below are shared. One scratch
 * instance: decoding is synchronous and the values are consumed before the next line.
 */
interface ConnFields {
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
}

const fields: ConnFields = {
  ts: undefined, origH: undefined, origP: undefined, respH: undefined, respP: undefined, proto: undefined, duration: undefined,
  origBytes: undefined, respBytes: undefined, origPkts: undefined, respPkts: undefined, connState: undefined, communityId: undefined,
};

/** Zeek writes `id.orig_h`; some shippers flatten to `id_orig_h` or nest under `id`. */
function idField(dotted: unknown, underscored: unknown, id: unknown, name: 'orig_h' | 'orig_p' | 'resp_h' | 'resp_p'): unknown {
  if (dotted !== undefined) return dotted;
  if (underscored !== undefined) return underscored;
  return id !== null && typeof id === 'object' ? (id as Json)[name] : undefined;
}

function isIPv4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros ("010" is octal to some parsers): ambiguity we refuse.
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (c - 48);
      digits++;
    } else {
      return false;
    }
  }
  return parts === 4;
}

function address(value: unknown, field: string): string {
  if (typeof value === 'string' && (isIPv4(value) || (value.includes(':') && isIPv6(value)))) return value;
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

function count(value: unknown, field: string): number {
  return Math.round(nonNegative(value, field));
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
  if (Number.isFinite(ms)) return ms;
  throw new FieldError('ts', `ts is not epoch seconds or an ISO time: ${jsonText(value)}`);
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw new FieldError(field, `${field} is not a string: ${jsonText(value)}`);
}

function attributeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : jsonText(v))).join(',');
  return typeof value === 'object' ? jsonText(value) : String(value);
}

/** The checks and the event, from `fields` and the attributes already collected; throws FieldError. */
function buildEvent(f: ConnFields, attributes: Record<string, string>, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const proto = f.proto;
  if (typeof proto !== 'string' || proto === '') throw new FieldError('proto', `proto is missing or not a string: ${jsonText(proto)}`);
  const durationS = nonNegative(f.duration, 'duration');
  return {
    event_id: eventIdAt(prefix, line),
    event_class: 'network_activity',
    time: timestamp(f.ts),
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: ZEEK_CONN_FORMAT_ID,
    src_ip: address(f.origH, 'id.orig_h'),
    src_port: port(f.origP, 'id.orig_p'),
    dst_ip: address(f.respH, 'id.resp_h'),
    dst_port: port(f.respP, 'id.resp_p'),
    protocol: proto.toLowerCase(),
    bytes_out: count(f.origBytes, 'orig_bytes'),
    bytes_in: count(f.respBytes, 'resp_bytes'),
    packets_out: count(f.origPkts, 'orig_pkts'),
    packets_in: count(f.respPkts, 'resp_pkts'),
    duration_ms: Math.round(durationS * 1000),
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

/** Returned by the scanner when the line needs JSON.parse (anything but a flat object of scalars). */
const UNUSUAL = 0;
/** The line became an event or a FIELD_INVALID error. */
const DONE = 1;

const SLOT_ATTRIBUTE = -1;
const SLOT_UNUSUAL = -2;

/**
 * Which field the key `text[at, at + len)` is, without building the key string: 0..16 for the
 * mapped fields (ts; id.orig_h, id.orig_p, id.resp_h, id.resp_p; the same with `_`; proto, duration,
 * orig_bytes, resp_bytes, orig_pkts, resp_pkts, conn_state, community_id), SLOT_ATTRIBUTE for any
 * other key, SLOT_UNUSUAL for `id` (a nested object) and `__proto__`.
 */
function mappedSlot(text: string, at: number, len: number): number {
  const c0 = text.charCodeAt(at);
  switch (len) {
    case 2:
      if (c0 === 116 && text.charCodeAt(at + 1) === 115) return 0; // ts
      if (c0 === 105 && text.charCodeAt(at + 1) === 100) return SLOT_UNUSUAL; // id
      return SLOT_ATTRIBUTE;
    case 5:
      return c0 === 112 && text.startsWith('proto', at) ? 9 : SLOT_ATTRIBUTE;
    case 8:
      return c0 === 100 && text.startsWith('duration', at) ? 10 : SLOT_ATTRIBUTE;
    case 9: {
      if (c0 === 105 && text.charCodeAt(at + 1) === 100) {
        const sep = text.charCodeAt(at + 2);
        const base = sep === 46 ? 1 : sep === 95 ? 5 : -1;
        if (base < 0) return SLOT_ATTRIBUTE;
        if (text.startsWith('orig_h', at + 3)) return base;
        if (text.startsWith('orig_p', at + 3)) return base + 1;
        if (text.startsWith('resp_h', at + 3)) return base + 2;
        if (text.startsWith('resp_p', at + 3)) return base + 3;
        return SLOT_ATTRIBUTE;
      }
      if (c0 === 111) return text.startsWith('orig_pkts', at) ? 13 : SLOT_ATTRIBUTE;
      if (c0 === 114) return text.startsWith('resp_pkts', at) ? 14 : SLOT_ATTRIBUTE;
      if (c0 === 95) return text.startsWith('__proto__', at) ? SLOT_UNUSUAL : SLOT_ATTRIBUTE;
      return SLOT_ATTRIBUTE;
    }
    case 10:
      if (c0 === 111) return text.startsWith('orig_bytes', at) ? 11 : SLOT_ATTRIBUTE;
      if (c0 === 114) return text.startsWith('resp_bytes', at) ? 12 : SLOT_ATTRIBUTE;
      if (c0 === 99) return text.startsWith('conn_state', at) ? 15 : SLOT_ATTRIBUTE;
      return SLOT_ATTRIBUTE;
    case 12:
      return c0 === 99 && text.startsWith('community_id', at) ? 16 : SLOT_ATTRIBUTE;
    default:
      return SLOT_ATTRIBUTE;
  }
}

/** 10^0 .. 10^22, each exact as a double. */
const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** Key cache of the scanner, by position in the line (see scanFlatConn). */
const MAX_ORDINALS = 64;
const orderKeys: (string | undefined)[] = new Array<string | undefined>(MAX_ORDINALS + 1).fill(undefined);
const orderSlots: number[] = new Array<number>(MAX_ORDINALS + 1).fill(SLOT_ATTRIBUTE);

/**
 * Flat Zeek conn lines without JSON.parse: one pass over `text[start, end)` that fills `fields` and
 * the attributes directly. It accepts only what it can decode exactly as JSON.parse would: an object
 * whose values are strings without escapes, JSON numbers, true, false or null, and whose keys are
 * plain (no escapes, no leading digit, no `__proto__`, no `id` object, no repeated attribute). Any
 * other input returns UNUSUAL before anything is pushed, and the caller takes the JSON.parse path.
 */
function scanFlatConn(text: string, start: number, end: number, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number, out: DecodeResult): number {
  const f = fields;
  f.ts = f.origH = f.origP = f.respH = f.respP = f.proto = f.duration = undefined;
  f.origBytes = f.respBytes = f.origPkts = f.respPkts = f.connState = f.communityId = undefined;
  let uOrigH: unknown;
  let uOrigP: unknown;
  let uRespH: unknown;
  let uRespP: unknown;
  const attributes: Record<string, string> = {};
  let nullKeys: string[] | undefined;
  let ordinal = 0;
  let i = start;
  let c = text.charCodeAt(i);
  while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
  if (c !== 123 || i >= end) return UNUSUAL;
  c = text.charCodeAt(++i);
  while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
  if (c === 125) {
    i++;
  } else {
    for (;;) {
      // Key.
      if (c !== 34 || i >= end) return UNUSUAL;
      const keyStart = ++i;
      for (;;) {
        if (i >= end) return UNUSUAL;
        c = text.charCodeAt(i);
        if (c === 34) break;
        if (c === 92 || c < 32) return UNUSUAL;
        i++;
      }
      if (i === keyStart) return UNUSUAL;
      const k0 = text.charCodeAt(keyStart);
      // Integer-like keys come first in JSON.parse's property order: leave them to it.
      if (k0 >= 48 && k0 <= 57) return UNUSUAL;
      // Lines of one log repeat their keys in the same order: reuse the key (and its slot) seen at this
      // position last time when the text matches, so the key is neither sliced nor looked up again.
      const len = i - keyStart;
      let slot: number;
      let key = orderKeys[ordinal];
      if (key !== undefined && key.length === len && text.startsWith(key, keyStart)) {
        slot = orderSlots[ordinal] as number;
      } else {
        slot = mappedSlot(text, keyStart, len);
        if (slot === SLOT_UNUSUAL) return UNUSUAL;
        key = text.slice(keyStart, i);
        if (ordinal < MAX_ORDINALS) {
          orderKeys[ordinal] = key;
          orderSlots[ordinal] = slot;
        }
      }
      ordinal++;
      c = text.charCodeAt(++i);
      while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
      if (c !== 58 || i >= end) return UNUSUAL;
      c = text.charCodeAt(++i);
      while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
      if (i >= end) return UNUSUAL;
      // Value.
      let value: string | number | boolean | null;
      if (c === 34) {
        const valueStart = ++i;
        for (;;) {
          if (i >= end) return UNUSUAL;
          c = text.charCodeAt(i);
          if (c === 34) break;
          if (c === 92 || c < 32) return UNUSUAL;
          i++;
        }
        value = text.slice(valueStart, i);
        i++;
      } else if (c === 45 || (c >= 48 && c <= 57)) {
        // JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        const numStart = i;
        const negative = c === 45;
        if (negative) c = text.charCodeAt(++i);
        // All digits as one integer (exact below 2^53) and the count of fraction digits.
        let mantissa = 0;
        let digits = 0;
        let fraction = 0;
        if (c === 48) {
          digits = 1;
          c = text.charCodeAt(++i);
        } else if (c >= 49 && c <= 57) {
          do {
            mantissa = mantissa * 10 + (c - 48);
            digits++;
            c = text.charCodeAt(++i);
          } while (c >= 48 && c <= 57);
        } else {
          return UNUSUAL;
        }
        if (c === 46) {
          c = text.charCodeAt(++i);
          if (!(c >= 48 && c <= 57)) return UNUSUAL;
          do {
            mantissa = mantissa * 10 + (c - 48);
            digits++;
            fraction++;
            c = text.charCodeAt(++i);
          } while (c >= 48 && c <= 57);
        }
        let exponent = false;
        if (c === 101 || c === 69) {
          exponent = true;
          c = text.charCodeAt(++i);
          if (c === 43 || c === 45) c = text.charCodeAt(++i);
          if (!(c >= 48 && c <= 57)) return UNUSUAL;
          do c = text.charCodeAt(++i);
          while (c >= 48 && c <= 57);
        }
        if (i > end) return UNUSUAL;
        if (!exponent && (digits <= 15 || (digits <= 17 && mantissa < 9007199254740992))) {
          // Clinger's fast path: an exact integer below 2^53 divided by an exact power of ten (<= 1e22)
          // is one correctly rounded IEEE operation, the same double JSON.parse and Number() produce.
          const magnitude = fraction === 0 ? mantissa : mantissa / (POW10[fraction] as number);
          value = negative ? -magnitude : magnitude;
        } else {
          value = Number(text.slice(numStart, i));
        }
      } else if (c === 116 && text.startsWith('true', i)) {
        value = true;
        i += 4;
      } else if (c === 102 && text.startsWith('false', i)) {
        value = false;
        i += 5;
      } else if (c === 110 && text.startsWith('null', i)) {
        value = null;
        i += 4;
      } else {
        return UNUSUAL;
      }
      if (i > end) return UNUSUAL;
      c = text.charCodeAt(i);
      // Store; a repeated mapped key keeps the last value, as JSON.parse does.
      switch (slot) {
        case 0: f.ts = value; break;
        case 1: f.origH = value; break;
        case 2: f.origP = value; break;
        case 3: f.respH = value; break;
        case 4: f.respP = value; break;
        case 5: uOrigH = value; break;
        case 6: uOrigP = value; break;
        case 7: uRespH = value; break;
        case 8: uRespP = value; break;
        case 9: f.proto = value; break;
        case 10: f.duration = value; break;
        case 11: f.origBytes = value; break;
        case 12: f.respBytes = value; break;
        case 13: f.origPkts = value; break;
        case 14: f.respPkts = value; break;
        case 15: f.connState = value; break;
        case 16: f.communityId = value; break;
        default:
          // A repeated attribute keeps its first position in JSON.parse's order: rare, leave it to JSON.parse.
          if (attributes[key] !== undefined || (nullKeys !== undefined && nullKeys.includes(key))) return UNUSUAL;
          if (value === null) (nullKeys ??= []).push(key);
          else attributes[key] = typeof value === 'string' ? value : String(value);
      }
      while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
      if (i >= end) return UNUSUAL;
      if (c === 125) {
        i++;
        break;
      }
      if (c !== 44) return UNUSUAL;
      c = text.charCodeAt(++i);
      while (c === 32 || c === 9 || c === 13 || c === 10) c = text.charCodeAt(++i);
    }
  }
  c = text.charCodeAt(i);
  while (i < end && (c === 32 || c === 9 || c === 13 || c === 10)) c = text.charCodeAt(++i);
  if (i !== end) return UNUSUAL;
  if (f.origH === undefined) f.origH = uOrigH;
  if (f.origP === undefined) f.origP = uOrigP;
  if (f.respH === undefined) f.respH = uRespH;
  if (f.respP === undefined) f.respP = uRespP;
  try {
    out.events.push(buildEvent(f, attributes, ctx, prefix, line));
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    out.errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
  }
  return DONE;
}

function parseObject(text: string, line: number): Json | NormalizeError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return new NormalizeError('PARSE_FAILED', `line ${line}: not JSON (${(cause as Error).message})`, { line, cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return new NormalizeError('PARSE_FAILED', `line ${line}: not a JSON object`, { line });
  }
  return value as Json;
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
  return decode(bytes, ctx, true);
}

/**
 * The same decoding with every line through JSON.parse (no flat-line scanner): the reference the
 * scanner is property-tested against.
 */
export function decodeZeekConnViaJsonParse(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  return decode(bytes, ctx, false);
}

function decode(bytes: Buffer, ctx: DecodeContext, scan: boolean): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  // A record opening with `{` cannot be TSV (its header opens with optional space and `#separator`).
  if (text.charCodeAt(0) !== 123 && isZeekTsv(text)) {
    decodeTsv(text, ctx, prefix, out);
    return out;
  }
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (scan && scanFlatConn(text, start, end, ctx, prefix, line, out) === DONE) {
      start = end + 1;
      line++;
      continue;
    }
    const chunk = text.slice(start, end).trim();
    if (chunk !== '') {
      const parsed = parseObject(chunk, line);
      if (parsed instanceof NormalizeError) {
        // A single pretty-printed object spans lines: retry on the whole record before giving up.
        if (line === 0 && end < text.length) {
          const whole = parseObject(text.trim(), 0);
          if (!(whole instanceof NormalizeError)) {
            convert(whole, ctx, prefix, 0, out);
            return out;
          }
        }
        out.errors.push(parsed);
      } else {
        convert(parsed, ctx, prefix, line, out);
      }
    }
    start = end + 1;
    line++;
  }
  return out;
}
