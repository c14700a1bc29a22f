import type { MamoriEvent } from '@mamori/events';
import { cefLineToEvent } from '../cef/decode.ts';
import { eventIdAt, eventIdPrefix } from '../event-id.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { parseAuthMessage } from './auth.ts';
import { FACILITIES, parseSyslog, SEVERITY_NAMES, startsMessage, SyslogSyntaxError, type SyslogMessage } from './parse.ts';
import { stripEnd } from '../text.ts';

export const SYSLOG_FORMAT_ID = 'syslog';

/** Bounds on attribute values: a syslog line can be 64 KiB of anything. */
export const SYSLOG_LIMITS = {
  msgChars: 8192,
  hostChars: 255,
  appChars: 128,
  procIdChars: 128,
  msgIdChars: 32,
  sdParams: 64,
  sdValueChars: 1024,
  /** Messages longer than this are never authentication lines; the auth patterns skip them. */
  authMsgChars: 8192,
} as const;

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** The syslog header as attributes: pri, facility, severity, host, app, pid, msgid, structured data, msg. */
function headerAttributes(m: SyslogMessage, withMsg: boolean): Record<string, string> {
  const a: Record<string, string> = { syslog_rfc: m.rfc };
  if (m.pri !== null) {
    a['facility'] = FACILITIES[m.pri >> 3] ?? String(m.pri >> 3);
    a['severity'] = SEVERITY_NAMES[m.pri & 7]!;
  }
  if (m.host !== null) a['host'] = bounded(m.host, SYSLOG_LIMITS.hostChars);
  if (m.app !== null) a['app'] = bounded(m.app, SYSLOG_LIMITS.appChars);
  if (m.procId !== null) a['pid'] = bounded(m.procId, SYSLOG_LIMITS.procIdChars);
  if (m.msgId !== null) a['msgid'] = bounded(m.msgId, SYSLOG_LIMITS.msgIdChars);
  if (m.zoneAssumed) a['time_zone_assumed'] = 'UTC';
  let params = 0;
  for (const element of m.structuredData) {
    if (element.params.length === 0 && params < SYSLOG_LIMITS.sdParams) {
      a[`sd.${element.id}`] = '';
      params++;
    }
    for (const [name, value] of element.params) {
      if (params++ >= SYSLOG_LIMITS.sdParams) break;
      a[`sd.${element.id}.${name}`] = bounded(value, SYSLOG_LIMITS.sdValueChars);
    }
  }
  if (withMsg) {
    a['msg'] = bounded(m.msg, SYSLOG_LIMITS.msgChars);
    if (m.msg.length > SYSLOG_LIMITS.msgChars) a['msg_truncated'] = 'true';
  }
  return a;
}

function pid(m: SyslogMessage): number | null {
  return m.procId !== null && /^\d{1,9}$/.test(m.procId) ? Number(m.procId) : null;
}

/** One parsed syslog message to an event: authentication when the message says so, else system_log. */
export function syslogToEvent(m: SyslogMessage, ctx: DecodeContext, eventId: string): MamoriEvent {
  const attributes = headerAttributes(m, true);
  const host = m.host === null ? null : bounded(m.host, SYSLOG_LIMITS.hostChars);
  const found = m.msg.length <= SYSLOG_LIMITS.authMsgChars ? parseAuthMessage(m.app, m.msg) : undefined;
  if (found) {
    attributes['auth_activity'] = found.activity;
    for (const [key, value] of Object.entries(found.extra)) attributes[key] = value;
  }
  return {
    event_id: eventId,
    event_class: found ? 'authentication' : 'system_log',
    time: m.time ?? ctx.ingestTime,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: SYSLOG_FORMAT_ID,
    src_ip: found?.srcIp ?? '',
    src_port: found?.srcPort ?? 0,
    dst_ip: '',
    dst_port: 0,
    protocol: found?.auth.service === 'sshd' ? 'tcp' : '',
    bytes_out: 0,
    bytes_in: 0,
    packets_out: 0,
    packets_in: 0,
    duration_ms: 0,
    conn_state: null,
    community_id: null,
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
    host,
    user: found?.auth.user ?? null,
    auth: found?.auth ?? null,
    process: m.app === null && pid(m) === null ? null : {
      pid: pid(m), name: m.app === null ? null : bounded(m.app, SYSLOG_LIMITS.appChars), path: null, command_line: null, guid: null, user: null,
      integrity_level: null, hashes: {}, parent_pid: null, parent_name: null, parent_path: null, parent_command_line: null, parent_guid: null,
    },
  };
}

/** One syslog line (already split out of the record) to an event or an error. */
export function syslogLineToEvent(line: string, ctx: DecodeContext, eventId: string, index: number): MamoriEvent | NormalizeError {
  let m: SyslogMessage;
  try {
    m = parseSyslog(line, ctx.ingestTime);
  } catch (error) {
    if (!(error instanceof SyslogSyntaxError)) throw error;
    const code = error.invalidValue ? 'FIELD_INVALID' : 'PARSE_FAILED';
    return new NormalizeError(code, `line ${index}: ${error.message}`, { line: index, ...(error.field === undefined ? {} : { field: error.field }) });
  }
  // CEF relayed through syslog: the CEF parser reads the MSG, the syslog header fills the gaps.
  const cefAt = m.msg.startsWith('CEF:') ? 0 : m.msg.indexOf('CEF:');
  if (cefAt === 0 || (cefAt > 0 && cefAt < 64 && /^\S*:? ?$/.test(m.msg.slice(0, cefAt)))) {
    return cefLineToEvent(stripEnd(m.msg.slice(cefAt), '\r\n'), ctx, eventId, index, {
      fallbackTime: m.time ?? ctx.ingestTime,
      host: m.host,
      // Prefixed so the syslog header never collides with CEF keys (severity, msg, ...).
      attributes: Object.fromEntries(Object.entries(headerAttributes(m, false)).map(([k, v]) => [k.startsWith('syslog_') ? k : `syslog_${k}`, v])),
    });
  }
  return syslogToEvent(m, ctx, eventId);
}

/**
 * Syslog to events. A record normally holds one message (as the ingest listeners produce it); a
 * record with several lines is split where a line starts a new message (`<PRI>` or a timestamp),
 * and other lines continue the message before them (multi-line messages). Message i gets id
 * FNV-1a(topic:partition:offset:i) where i counts messages, so splitting is deterministic.
 */
export function decodeSyslog(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  const lines = bytes.toString('utf8').split('\n');
  const messages: string[] = [];
  for (const raw of lines) {
    const line = stripEnd(raw, '\r\0');
    if (messages.length === 0 || startsMessage(line)) messages.push(line);
    else messages[messages.length - 1] += `\n${line}`;
  }
  let index = 0;
  for (const message of messages) {
    const text = message.trimEnd();
    if (text.trim() === '') continue;
    const result = syslogLineToEvent(text, ctx, eventIdAt(prefix, index), index);
    if (result instanceof NormalizeError) out.errors.push(result);
    else out.events.push(result);
    index++;
  }
  return out;
}
