import { isIP } from 'node:net';
import type { AlertInfo, DnsInfo, FileInfo, HttpInfo, MamoriEvent, SshInfo, TlsInfo } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../event-id.ts';
import { isEventTimeMs, MAX_INT, MAX_LONG } from '../event-limits.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { jsonText } from '../text.ts';
import { forEachJsonObject } from '../json.ts';
import { isIpv6Flow, protocolOfName, protocolOfNumber } from '../protocol.ts';

export const SURICATA_EVE_FORMAT_ID = 'suricata.eve';

type Json = Record<string, unknown>;

/** Longest attribute value kept from a nested object rendered as JSON (e.g. `alert.metadata`). */
export const MAX_JSON_ATTRIBUTE_CHARS = 1024;

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Top-level keys read into event columns or handled per event type; never copied to attributes. */
const COMMON_MAPPED = new Set([
  'timestamp', 'event_type', 'src_ip', 'src_port', 'dest_ip', 'dest_port', 'proto', 'community_id',
  'icmp_type', 'icmp_code', 'pcap_cnt', 'payload', 'payload_printable', 'packet', 'packet_info', 'stream',
]);

/** Top-level keys copied to attributes as they are (scalars; arrays joined with `,`). */
const COMMON_ATTRIBUTES = ['flow_id', 'parent_id', 'in_iface', 'host', 'app_proto', 'app_proto_ts', 'app_proto_tc', 'app_proto_orig', 'app_proto_expected', 'tx_id', 'vlan', 'direction', 'response_icmp_type', 'response_icmp_code'];

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v !== 'object' || v === null)) return value.join(',');
  return undefined;
}

/** Copies the scalar (and scalar-array) fields of `o` into `attributes` as `<prefix>.<key>`. */
function flatten(attributes: Record<string, string>, prefix: string, o: unknown, skip?: ReadonlySet<string>): void {
  if (!isObject(o)) return;
  for (const key in o) {
    if (skip?.has(key)) continue;
    const text = scalarText(o[key]);
    if (text !== undefined) attributes[`${prefix}.${key}`] = text;
  }
}

function jsonAttribute(value: unknown): string {
  const text = jsonText(value);
  return text.length > MAX_JSON_ATTRIBUTE_CHARS ? text.slice(0, MAX_JSON_ATTRIBUTE_CHARS) : text;
}

function str(o: Json | undefined, key: string): string | null {
  const value = o?.[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/**
 * A non-negative integer up to `max` (what the event field holds: an Avro long, or `MAX_INT` for an
 * int) or null; a present but impossible value is FIELD_INVALID. A larger value used to fail the Avro
 * encode, and with it the batch.
 */
function int(o: Json | undefined, key: string, field: string, max = MAX_LONG): number | null {
  const value = o?.[key];
  if (value === undefined || value === null) return null;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max) return n;
  throw new FieldError(field, `${field} is not a non-negative integer up to ${max}: ${jsonText(value)}`);
}

function count(o: Json | undefined, key: string, field: string): number {
  return int(o, key, field) ?? 0;
}

function address(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'string' && isIP(value) !== 0) return value;
  throw new FieldError(field, `${field} is not an IP address: ${jsonText(value)}`);
}

function port(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  throw new FieldError(field, `${field} is not a port (0..65535): ${jsonText(value)}`);
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Suricata's `2021-06-06T15:59:46.457984+0200` (also `+02:00`, `Z`, or no zone = UTC) to epoch ms,
 * truncating sub-millisecond digits. Returns NaN when the text is not such a time.
 */
export function parseSuricataTime(text: string): number {
  const m = TIME.exec(text);
  if (m === null) return Number.NaN;
  const frac = m[7] ?? '';
  const ms = frac === '' ? 0 : Number(frac.length >= 3 ? frac.slice(0, 3) : frac.padEnd(3, '0'));
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return t;
}

function requiredTime(o: Json): number {
  const value = o['timestamp'];
  const t = typeof value === 'string' ? parseSuricataTime(value) : Number.NaN;
  if (isEventTimeMs(t)) return t;
  throw new FieldError('timestamp', `timestamp is missing or not a Suricata time between 1900 and 2299: ${jsonText(value)}`);
}

function optionalTime(o: Json | undefined, key: string): number | null {
  const value = o?.[key];
  if (typeof value !== 'string') return null;
  const t = parseSuricataTime(value);
  return Number.isFinite(t) ? t : null;
}

/** The common part of every Suricata event; the caller fills the class record. */
function baseEvent(o: Json, eventClass: string, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const proto = o['proto'];
  const srcIp = o['src_ip'];
  const protocol =
    typeof proto === 'string'
      ? protocolOfName(proto, typeof srcIp === 'string' && isIpv6Flow(srcIp))
      : typeof proto === 'number'
        ? protocolOfNumber(proto)
        : '';
  const icmp = o['icmp_type'] !== undefined;
  const attributes: Record<string, string> = { event_type: String(o['event_type']) };
  for (const key of COMMON_ATTRIBUTES) {
    const text = scalarText(o[key]);
    if (text !== undefined) attributes[key] = text;
  }
  const communityId = o['community_id'];
  return {
    event_id: eventIdAt(prefix, line),
    event_class: eventClass,
    time: requiredTime(o),
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: SURICATA_EVE_FORMAT_ID,
    src_ip: address(o['src_ip'], 'src_ip'),
    // ICMP carries type/code where TCP/UDP carry ports (as Zeek does).
    src_port: icmp ? port(o['icmp_type'], 'icmp_type') : port(o['src_port'], 'src_port'),
    dst_ip: address(o['dest_ip'], 'dest_ip'),
    dst_port: icmp ? port(o['icmp_code'] ?? 0, 'icmp_code') : port(o['dest_port'], 'dest_port'),
    protocol,
    bytes_out: 0,
    bytes_in: 0,
    packets_out: 0,
    packets_in: 0,
    duration_ms: 0,
    conn_state: null,
    community_id: typeof communityId === 'string' && communityId !== '' ? communityId : null,
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
  };
}

/** bytes/packets toserver → out, toclient → in; duration from start/end. */
function applyFlowCounters(event: MamoriEvent, flow: Json | undefined): void {
  if (flow === undefined) return;
  event.bytes_out = count(flow, 'bytes_toserver', 'flow.bytes_toserver');
  event.bytes_in = count(flow, 'bytes_toclient', 'flow.bytes_toclient');
  event.packets_out = count(flow, 'pkts_toserver', 'flow.pkts_toserver');
  event.packets_in = count(flow, 'pkts_toclient', 'flow.pkts_toclient');
  const start = optionalTime(flow, 'start');
  const end = optionalTime(flow, 'end');
  if (start !== null && end !== null && end >= start) event.duration_ms = end - start;
}

const FLOW_MAPPED = new Set(['bytes_toserver', 'bytes_toclient', 'pkts_toserver', 'pkts_toclient', 'state']);

function flowEvent(o: Json, event: MamoriEvent): void {
  const flow = isObject(o['flow']) ? o['flow'] : undefined;
  applyFlowCounters(event, flow);
  event.conn_state = str(flow, 'state');
  flatten(event.attributes, 'flow', flow, FLOW_MAPPED);
  flatten(event.attributes, 'tcp', o['tcp']);
}

const NETFLOW_MAPPED = new Set(['bytes', 'pkts']);

/** Netflow records are one direction each: everything counts as out. */
function netflowEvent(o: Json, event: MamoriEvent): void {
  const nf = isObject(o['netflow']) ? o['netflow'] : undefined;
  event.bytes_out = count(nf, 'bytes', 'netflow.bytes');
  event.packets_out = count(nf, 'pkts', 'netflow.pkts');
  const start = optionalTime(nf, 'start');
  const end = optionalTime(nf, 'end');
  if (start !== null && end !== null && end >= start) event.duration_ms = end - start;
  flatten(event.attributes, 'netflow', nf, NETFLOW_MAPPED);
  flatten(event.attributes, 'tcp', o['tcp']);
}

function alertRecord(a: Json): AlertInfo {
  return {
    signature: str(a, 'signature'),
    signature_id: int(a, 'signature_id', 'alert.signature_id'),
    rev: int(a, 'rev', 'alert.rev', MAX_INT),
    gid: int(a, 'gid', 'alert.gid'),
    category: str(a, 'category'),
    severity: int(a, 'severity', 'alert.severity', MAX_INT),
    action: str(a, 'action'),
  };
}

const ALERT_MAPPED = new Set(['signature', 'signature_id', 'rev', 'gid', 'category', 'severity', 'action', 'metadata']);

function alertEvent(o: Json, event: MamoriEvent): void {
  const a = o['alert'];
  if (!isObject(a)) throw new FieldError('alert', 'alert event without an alert object');
  event.alert = alertRecord(a);
  flatten(event.attributes, 'alert', a, ALERT_MAPPED);
  if (a['metadata'] !== undefined) event.attributes['alert.metadata'] = jsonAttribute(a['metadata']);
  // The flow snapshot at alert time and the app-layer context that triggered it.
  applyFlowCounters(event, isObject(o['flow']) ? o['flow'] : undefined);
  if (isObject(o['http'])) event.http = httpRecord(o['http']);
  if (isObject(o['tls'])) event.tls = tlsRecord(o['tls']);
  if (isObject(o['dns'])) event.dns = alertDnsRecord(o['dns']);
  if (isObject(o['ssh'])) event.ssh = sshRecord(o['ssh']);
}

function anomalyEvent(o: Json, event: MamoriEvent): void {
  const a = isObject(o['anomaly']) ? o['anomaly'] : {};
  event.alert = {
    signature: str(a, 'event'),
    signature_id: null,
    rev: null,
    gid: null,
    category: 'suricata.anomaly',
    severity: null,
    action: null,
  };
  flatten(event.attributes, 'anomaly', a, new Set(['event']));
}

function dnsName(value: string | null): string | null {
  if (value === null) return null;
  const lower = value.toLowerCase();
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

/** Answer data from `answers[].rdata` (v2/v3) or, for the `grouped` layout, every grouped value. */
function answerData(d: Json): string[] {
  const out: string[] = [];
  const answers = d['answers'];
  if (Array.isArray(answers)) {
    for (const answer of answers) {
      const rdata = isObject(answer) ? scalarText(answer['rdata']) : undefined;
      if (rdata !== undefined) out.push(rdata);
    }
    return out;
  }
  const grouped = d['grouped'];
  if (isObject(grouped)) {
    for (const key in grouped) {
      const values = grouped[key];
      if (Array.isArray(values)) for (const v of values) if (typeof v === 'string') out.push(v);
    }
    return out;
  }
  // v1: one record per answer.
  const rdata = scalarText(d['rdata']);
  if (rdata !== undefined) out.push(rdata);
  return out;
}

/**
 * The three EVE DNS layouts: v1 (one record per query and per answer, `type` query/answer, `rdata`),
 * v2 (`version` 2: query records as v1, one answer record with `answers` and/or `grouped`), v3
 * (Suricata 8: `type` request/response, `queries` and `answers` arrays).
 */
function dnsRecord(d: Json): DnsInfo {
  const queries = d['queries'];
  const first = Array.isArray(queries) && isObject(queries[0]) ? queries[0] : d;
  return {
    query: dnsName(str(first, 'rrname')),
    qtype: str(first, 'rrtype'),
    rcode: str(d, 'rcode'),
    answers: answerData(d),
    trans_id: int(d, 'id', 'dns.id'),
    rejected: null,
  };
}

const DNS_MAPPED = new Set(['rrname', 'rrtype', 'rcode', 'id', 'rdata', 'answers', 'grouped', 'queries', 'authorities', 'additionals']);

/** Alerts carry v3's layout, or v2's `{query: [..]}` / `{answer: {..}}`. */
function alertDnsRecord(d: Json): DnsInfo {
  const query = d['query'];
  if (Array.isArray(query) && isObject(query[0])) return dnsRecord(query[0]);
  const answer = d['answer'];
  if (isObject(answer)) return dnsRecord(answer);
  return dnsRecord(d);
}

const DNS_PORTS = new Set([53, 5353, 853]);

function dnsEvent(o: Json, event: MamoriEvent): void {
  const d = o['dns'];
  if (!isObject(d)) throw new FieldError('dns', 'dns event without a dns object');
  event.dns = dnsRecord(d);
  flatten(event.attributes, 'dns', d, DNS_MAPPED);
  const queries = d['queries'];
  if (Array.isArray(queries) && queries.length > 1) event.attributes['dns.queries'] = jsonAttribute(queries);
  // Suricata 8 may log responses with the responder as src_ip: keep the client as src.
  const type = d['type'];
  if ((type === 'response' || type === 'answer') && DNS_PORTS.has(event.src_port) && !DNS_PORTS.has(event.dst_port)) {
    [event.src_ip, event.dst_ip] = [event.dst_ip, event.src_ip];
    [event.src_port, event.dst_port] = [event.dst_port, event.src_port];
    event.attributes['endpoints_swapped'] = 'true';
  }
}

function httpRecord(h: Json): HttpInfo {
  const status = h['status'];
  const statusCode = typeof status === 'number' || (typeof status === 'string' && /^\d+$/.test(status)) ? int(h, 'status', 'http.status', MAX_INT) : null;
  return {
    method: str(h, 'http_method'),
    host: str(h, 'hostname'),
    uri: str(h, 'url'),
    user_agent: str(h, 'http_user_agent'),
    referrer: str(h, 'http_refer'),
    status_code: statusCode,
    request_body_bytes: int(h, 'request_body_len', 'http.request_body_len'),
    response_body_bytes: int(h, 'length', 'http.length'),
    content_type: str(h, 'http_content_type'),
    version: str(h, 'protocol'),
  };
}

const HTTP_MAPPED = new Set(['http_method', 'hostname', 'url', 'http_user_agent', 'http_refer', 'status', 'request_body_len', 'length', 'http_content_type', 'protocol']);

function httpEvent(o: Json, event: MamoriEvent): void {
  const h = o['http'];
  if (!isObject(h)) throw new FieldError('http', 'http event without an http object');
  event.http = httpRecord(h);
  flatten(event.attributes, 'http', h, HTTP_MAPPED);
}

/** JA3/JA3S are `{hash, string}` objects (or a bare hash from some shippers). */
function fingerprintHash(value: unknown): string | null {
  if (typeof value === 'string') return value;
  return isObject(value) ? str(value, 'hash') : null;
}

/** Certificate times are UTC without a zone, e.g. `2020-03-19T09:44:08`. */
function tlsRecord(t: Json): TlsInfo {
  const san = t['subjectaltname'];
  return {
    version: str(t, 'version'),
    cipher: str(t, 'cipher_suite') ?? str(t, 'cipher'),
    sni: str(t, 'sni'),
    ja3: fingerprintHash(t['ja3']),
    ja3s: fingerprintHash(t['ja3s']),
    established: null,
    subject: str(t, 'subject'),
    issuer: str(t, 'issuerdn'),
    serial: str(t, 'serial'),
    not_before: optionalTime(t, 'notbefore'),
    not_after: optionalTime(t, 'notafter'),
    fingerprint_sha1: str(t, 'fingerprint'),
    san_dns: Array.isArray(san) ? san.filter((v): v is string => typeof v === 'string') : [],
  };
}

const TLS_MAPPED = new Set(['version', 'cipher_suite', 'cipher', 'sni', 'subject', 'issuerdn', 'serial', 'notbefore', 'notafter', 'fingerprint', 'subjectaltname']);

function tlsEvent(o: Json, event: MamoriEvent): void {
  const t = o['tls'];
  if (!isObject(t)) throw new FieldError('tls', 'tls event without a tls object');
  event.tls = tlsRecord(t);
  flatten(event.attributes, 'tls', t, TLS_MAPPED);
  for (const key of ['ja3', 'ja3s'] as const) {
    const fp = t[key];
    if (isObject(fp) && typeof fp['string'] === 'string') event.attributes[`tls.${key}.string`] = fp['string'];
  }
  const ja4 = t['ja4'];
  if (typeof ja4 === 'string') event.attributes['tls.ja4'] = ja4;
}

function sshRecord(s: Json): SshInfo {
  const client = isObject(s['client']) ? s['client'] : undefined;
  const server = isObject(s['server']) ? s['server'] : undefined;
  return {
    client: str(client, 'software_version'),
    server: str(server, 'software_version'),
    auth_success: null,
    auth_attempts: null,
    hassh: fingerprintHash(client?.['hassh']),
    hassh_server: fingerprintHash(server?.['hassh']),
    direction: null,
  };
}

function sshEvent(o: Json, event: MamoriEvent): void {
  const s = o['ssh'];
  if (!isObject(s)) throw new FieldError('ssh', 'ssh event without an ssh object');
  event.ssh = sshRecord(s);
  flatten(event.attributes, 'ssh.client', s['client'], new Set(['software_version']));
  flatten(event.attributes, 'ssh.server', s['server'], new Set(['software_version']));
}

function fileRecord(f: Json): FileInfo {
  const hashes: Record<string, string> = {};
  for (const algo of ['md5', 'sha1', 'sha256'] as const) {
    const h = f[algo];
    if (typeof h === 'string' && h !== '') hashes[algo] = h.toLowerCase();
  }
  const filename = str(f, 'filename');
  return {
    action: 'transferred',
    path: filename,
    name: filename === null ? null : filename.slice(filename.lastIndexOf('/') + 1) || null,
    size: int(f, 'size', 'fileinfo.size'),
    mime_type: str(f, 'mimetype'),
    hashes,
  };
}

const FILE_MAPPED = new Set(['filename', 'size', 'mimetype', 'md5', 'sha1', 'sha256']);

function fileinfoEvent(o: Json, event: MamoriEvent): void {
  const f = o['fileinfo'];
  if (!isObject(f)) throw new FieldError('fileinfo', 'fileinfo event without a fileinfo object');
  event.file = fileRecord(f);
  flatten(event.attributes, 'fileinfo', f, FILE_MAPPED);
  if (isObject(o['http'])) event.http = httpRecord(o['http']);
}

/** Any other app-layer type (smb, krb5, smtp, ...): its object's scalar fields under `<type>.`. */
function genericEvent(o: Json, event: MamoriEvent): void {
  const type = String(o['event_type']);
  flatten(event.attributes, type, o[type]);
  applyFlowCounters(event, isObject(o['flow']) ? o['flow'] : undefined);
}

interface EventTypeMapping {
  readonly eventClass: string;
  readonly fill: (o: Json, event: MamoriEvent) => void;
}

/** `event_type` → class and filler; anything else is {@link GENERIC}; `stats` is skipped. */
export const EVENT_TYPES: Readonly<Record<string, EventTypeMapping>> = {
  alert: { eventClass: 'detection_finding', fill: alertEvent },
  anomaly: { eventClass: 'detection_finding', fill: anomalyEvent },
  flow: { eventClass: 'network_activity', fill: flowEvent },
  netflow: { eventClass: 'network_activity', fill: netflowEvent },
  dns: { eventClass: 'dns_activity', fill: dnsEvent },
  http: { eventClass: 'http_activity', fill: httpEvent },
  tls: { eventClass: 'tls_activity', fill: tlsEvent },
  ssh: { eventClass: 'ssh_activity', fill: sshEvent },
  fileinfo: { eventClass: 'network_file_activity', fill: fileinfoEvent },
};

const GENERIC: EventTypeMapping = { eventClass: 'network_activity', fill: genericEvent };

/** Event types that describe the sensor, not the network: counted as skipped, never events. */
export const SKIPPED_EVENT_TYPES: ReadonlySet<string> = new Set(['stats']);

/** One parsed EVE object to an event; throws FieldError for the caller to report. */
export function eveToEvent(o: Json, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const type = o['event_type'];
  if (typeof type !== 'string' || type === '') throw new FieldError('event_type', `event_type is missing or not a string: ${jsonText(type)}`);
  const mapping = EVENT_TYPES[type] ?? GENERIC;
  const event = baseEvent(o, mapping.eventClass, ctx, prefix, line);
  mapping.fill(o, event);
  return event;
}

/**
 * Suricata EVE JSON to events. A record holds NDJSON lines (or one pretty-printed object); line i
 * becomes the event with id FNV-1a(topic:partition:offset:i). `stats` lines are counted in `skipped`.
 */
export function decodeSuricataEve(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const events: MamoriEvent[] = [];
  const errors: NormalizeError[] = [];
  let skipped = 0;
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  const convert = (o: Json, line: number): void => {
    if (typeof o['event_type'] === 'string' && SKIPPED_EVENT_TYPES.has(o['event_type'])) {
      skipped++;
      return;
    }
    try {
      events.push(eveToEvent(o, ctx, prefix, line));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
    }
  };
  forEachJsonObject(text, convert, (error) => errors.push(error));
  return skipped === 0 ? { events, errors } : { events, errors, skipped };
}

/**
 * Content sniffing: JSON lines with `event_type`, `timestamp` and `src_ip` or `flow_id` (stats lines,
 * which have neither, count as neutral). Confidence is the share of matching lines among the first few.
 */
export function sniffSuricataEve(head: string): number {
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
    if (!isObject(o)) return 0;
    seen++;
    if (typeof o['event_type'] === 'string' && typeof o['timestamp'] === 'string') {
      if (o['src_ip'] !== undefined || o['flow_id'] !== undefined || o['event_type'] === 'stats') matched++;
    }
  }
  return seen === 0 ? 0 : 0.95 * (matched / seen);
}
