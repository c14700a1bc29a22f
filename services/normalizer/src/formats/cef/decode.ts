import { isIP } from 'node:net';
import type { AlertInfo, MamoriEvent } from '@mamori/events';
import { eventIdAt, eventIdPrefix } from '../event-id.ts';
import { isEventTimeMs } from '../event-limits.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { CefSyntaxError, parseCef, type CefRecord } from './parse.ts';
import { parseCefTime } from './time.ts';
import { stripEnd } from '../text.ts';
import { isIpv6Flow, protocolOfName } from '../protocol.ts';

export const CEF_FORMAT_ID = 'cef';

/** Bounds on what one event carries, so a hostile line cannot blow up a row. */
const MAX_ATTRIBUTES = 128;
const MAX_ATTRIBUTE_CHARS = 4096;
const MAX_KEY_CHARS = 64;

/** Extension keys mapped onto event columns or records (everything else lands in `attributes`). */
const MAPPED = new Set(['src', 'dst', 'spt', 'dpt', 'proto', 'in', 'out', 'act', 'cat']);

/** Names and `cat` values that mark a firewall/flow traffic log rather than a finding. */
const TRAFFIC = /\b(traffic|flow|conn|connection|session)\b/i;

function bounded(text: string, max = MAX_ATTRIBUTE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function address(value: string | undefined): string {
  const v = value?.trim();
  return v !== undefined && isIP(v) !== 0 ? v : '';
}

function port(value: string | undefined): number {
  if (value === undefined || !/^\d{1,5}$/.test(value.trim())) return 0;
  const n = Number(value);
  return n <= 65535 ? n : 0;
}

function count(value: string | undefined): number {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return 0;
  return Number(value);
}

/**
 * CEF severity to the 0..10 scale: an integer 0..10 as is; the words Low (3), Medium (6), High (8),
 * Very-High (10), Unknown (null). Labels follow the CEF ranges 0-3 low, 4-6 medium, 7-8 high, 9-10 very-high.
 */
export function cefSeverity(text: string): { score: number | null; label: string } {
  const t = text.trim().toLowerCase();
  let score: number | null = null;
  if (/^\d{1,2}$/.test(t) && Number(t) <= 10) score = Number(t);
  else if (t === 'low') score = 3;
  else if (t === 'medium') score = 6;
  else if (t === 'high') score = 8;
  else if (t === 'very-high' || t === 'very high' || t === 'veryhigh') score = 10;
  if (score === null) return { score, label: 'unknown' };
  const label = score <= 3 ? 'low' : score <= 6 ? 'medium' : score <= 8 ? 'high' : 'very-high';
  return { score, label };
}

/** Custom-field keys with a `<key>Label` companion: the label names the attribute. */
const LABELLED = /^(cs[1-6]|cn[1-3]|cfp[1-4]|flexString[12]|flexNumber[12]|flexDate1|c6a[1-4]|deviceCustomDate[12])$/;

function attributeKey(key: string): string {
  return key.length <= MAX_KEY_CHARS ? key : key.slice(0, MAX_KEY_CHARS);
}

/** Whether a record is a traffic log (network_activity) rather than a finding; see README. */
export function isTrafficLog(rec: CefRecord): boolean {
  const ext = rec.extension;
  if (address(ext.get('src')) === '' || address(ext.get('dst')) === '') return false;
  return TRAFFIC.test(rec.name) || TRAFFIC.test(ext.get('cat') ?? '') || TRAFFIC.test(rec.signatureId);
}

/** What a wrapping format (syslog) knows about the line. */
export interface CefEnvelope {
  /** Time to use when the extension has no rt/end/start. */
  fallbackTime: number;
  /** Host from the envelope, used when the extension has no dvchost. */
  host?: string | null;
  /** Envelope attributes (syslog facility, app, ...); the CEF fields win on a clash. */
  attributes?: Record<string, string>;
}

/** One parsed CEF record to an event. */
export function cefToEvent(rec: CefRecord, ctx: DecodeContext, eventId: string, envelope: CefEnvelope): MamoriEvent {
  const ext = rec.extension;
  const attributes: Record<string, string> = { ...envelope.attributes };
  let attributeCount = Object.keys(attributes).length;
  const put = (key: string, value: string): void => {
    if (attributeCount >= MAX_ATTRIBUTES && !(key in attributes)) return;
    if (!(key in attributes)) attributeCount++;
    attributes[attributeKey(key)] = bounded(value);
  };
  put('cef_version', String(rec.version));
  put('device_vendor', rec.vendor);
  put('device_product', rec.product);
  put('device_version', rec.deviceVersion);
  const severity = cefSeverity(rec.severity);
  put('severity', rec.severity);
  put('severity_label', severity.label);
  if (rec.unparsed !== '') put('cef_unparsed', rec.unparsed);

  let time = Number.NaN;
  for (const key of ['rt', 'end', 'start']) {
    const value = ext.get(key);
    if (value === undefined) continue;
    const parsed = parseCefTime(value, ctx.ingestTime);
    // A time an event cannot hold (outside 1900-2299, ClickHouse DateTime64) is as unusable as an unparseable one.
    if (isEventTimeMs(parsed.ms)) {
      time = parsed.ms;
      if (parsed.zoneGuessed) put('time_zone_assumed', 'UTC');
      break;
    }
  }
  if (!isEventTimeMs(time)) time = envelope.fallbackTime;

  for (const [key, value] of ext) {
    if (MAPPED.has(key) || key.endsWith('Label')) continue;
    const label = LABELLED.test(key) ? ext.get(`${key}Label`)?.trim() : undefined;
    put(label ? label : key, value);
  }
  // Values that were not addresses or ports stay visible.
  for (const key of ['src', 'dst', 'spt', 'dpt', 'in', 'out']) {
    const value = ext.get(key);
    if (value === undefined) continue;
    const kept = key === 'src' || key === 'dst' ? address(value) !== '' : key === 'spt' || key === 'dpt' ? port(value) > 0 || value.trim() === '0' : /^\d{1,15}$/.test(value.trim());
    if (!kept) put(key, value);
  }

  const srcIp = address(ext.get('src'));
  const rawProto = ext.get('proto')?.trim() ?? '';
  const protocol = rawProto === '' ? '' : protocolOfName(rawProto.slice(0, 32), isIpv6Flow(srcIp));
  const traffic = isTrafficLog(rec);
  const signatureId = /^\d{1,15}$/.test(rec.signatureId.trim()) ? Number(rec.signatureId.trim()) : null;
  if (signatureId === null && rec.signatureId !== '') put('signature_id', rec.signatureId);
  const alert: AlertInfo = {
    signature: bounded(rec.name, 1024),
    signature_id: signatureId,
    rev: null,
    gid: null,
    category: ext.get('cat') ?? null,
    severity: severity.score,
    action: ext.get('act') ?? null,
  };
  if (traffic) {
    if (alert.action !== null) put('act', alert.action);
    if (alert.category !== null) put('cat', alert.category);
    put('name', rec.name);
  }
  const user = ext.get('suser') ?? ext.get('duser') ?? null;
  return {
    event_id: eventId,
    event_class: traffic ? 'network_activity' : 'detection_finding',
    time,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: CEF_FORMAT_ID,
    src_ip: srcIp,
    src_port: port(ext.get('spt')),
    dst_ip: address(ext.get('dst')),
    dst_port: port(ext.get('dpt')),
    protocol,
    bytes_out: count(ext.get('out')),
    bytes_in: count(ext.get('in')),
    packets_out: 0,
    packets_in: 0,
    duration_ms: 0,
    conn_state: null,
    community_id: null,
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
    host: ext.get('dvchost') ?? envelope.host ?? null,
    user: user === null ? null : bounded(user, 256),
    alert: traffic ? null : alert,
  };
}

/** Parses one CEF line (the text from `CEF:` on) into an event or a NormalizeError for line `line`. */
export function cefLineToEvent(text: string, ctx: DecodeContext, eventId: string, line: number, envelope: CefEnvelope): MamoriEvent | NormalizeError {
  let rec: CefRecord;
  try {
    rec = parseCef(text);
  } catch (error) {
    if (!(error instanceof CefSyntaxError)) throw error;
    return new NormalizeError('PARSE_FAILED', `line ${line}: not CEF (${error.message})`, { line });
  }
  return cefToEvent(rec, ctx, eventId, envelope);
}

/**
 * CEF lines to events: one line per event (line i gets id FNV-1a(topic:partition:offset:i)); blank
 * lines are skipped but keep their index. Text before `CEF:` on a line (a syslog header added by a
 * relay) is kept as the `cef_prefix` attribute; a line without `CEF:` is PARSE_FAILED.
 */
export function decodeCef(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  const lines = bytes.toString('utf8').split('\n');
  for (let line = 0; line < lines.length; line++) {
    const text = stripEnd(lines[line]!, '\r\0');
    if (text.trim() === '') continue;
    const at = text.indexOf('CEF:');
    if (at === -1) {
      out.errors.push(new NormalizeError('PARSE_FAILED', `line ${line}: no CEF: header`, { line }));
      continue;
    }
    const envelope: CefEnvelope = { fallbackTime: ctx.ingestTime };
    if (at > 0) envelope.attributes = { cef_prefix: bounded(text.slice(0, at).trim(), 512) };
    const result = cefLineToEvent(text.slice(at), ctx, eventIdAt(prefix, line), line, envelope);
    if (result instanceof NormalizeError) out.errors.push(result);
    else out.events.push(result);
  }
  return out;
}
