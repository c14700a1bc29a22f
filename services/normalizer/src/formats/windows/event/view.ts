/**
 * One Windows event read from either JSON shape into the same view: the flat shape of the OTRF /
 * Mordor datasets and NXLog/Logstash (`EventID`, `Channel`, `Hostname`, event data as top-level keys)
 * and Winlogbeat/ECS (`winlog.event_id`, `winlog.channel`, `winlog.event_data.*`, `host.name`).
 */

import { jsonText } from '../../text.ts';
import { isEventTimeMs, isLong } from '../../event-limits.ts';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface WindowsView {
  readonly eventId: number;
  /** As written (e.g. `Security`, `security`, `Microsoft-Windows-Sysmon/Operational`). */
  readonly channel: string;
  /** Lower case, for dispatch. */
  readonly channelKey: string;
  readonly provider: string | null;
  readonly computer: string | null;
  readonly time: number;
  readonly recordId: string | null;
  /** Process that wrote the event (System/Execution/@ProcessID), e.g. the PowerShell host for 4104. */
  readonly executionPid: number | null;
  /** Event data by its Windows name (`Image`, `TargetUserName`, ...). */
  readonly data: Json;
  readonly shape: 'flat' | 'winlogbeat';
}

export class ViewError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Keys of the flat shape that describe the record or its transport, not the event's data. */
export const SYSTEM_KEYS: ReadonlySet<string> = new Set([
  'EventID', 'Channel', 'Hostname', 'Computer', 'SourceName', 'ProviderName', 'ProviderGuid', 'Provider', 'Task', 'Keywords',
  'Level', 'Opcode', 'OpcodeValue', 'Version', '@timestamp', 'TimeCreated', 'EventTime', 'EventReceivedTime',
  'SourceModuleName', 'SourceModuleType', '@version', 'port', 'tags', 'host', 'Severity', 'SeverityValue',
  'ExecutionProcessID', 'ExecutionProcessId', 'ThreadID', 'RecordNumber', 'EventRecordID', 'Message', 'Category',
  'EventTypeOrignal', 'AccountType', 'ERROR_EVT_UNRESOLVED', 'winlog', 'event', 'ecs', 'agent', 'log', 'message',
]);

const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO 8601 (`2020-10-21T11:28:11.220Z`), Sysmon's `2020-10-22 03:28:10.213` (UTC) and NXLog's
 * `2020-09-22 14:10:21` (no zone: read as UTC) to epoch ms; NaN when not a time.
 */
export function parseWindowsTime(value: unknown): number {
  if (isObject(value)) return parseWindowsTime(value['SystemTime']);
  if (typeof value !== 'string') return Number.NaN;
  const m = TIME.exec(value.trim());
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

/**
 * Decimal or `0x` hex (Security events write process ids in hex); null when absent, not a number or
 * beyond an Avro long (such a pid used to fail the encode, and with it the batch).
 */
export function parseId(value: unknown): number | null {
  if (typeof value === 'number') return isLong(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || value === '' || value === '-') return null;
  const n = /^0x[0-9a-f]+$/i.test(value) ? Number.parseInt(value.slice(2), 16) : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  return isLong(n) ? n : null;
}

function eventIdOf(value: unknown): number {
  const n = parseId(value);
  if (n !== null && n <= 65535) return n;
  throw new ViewError('EventID', `EventID is missing or not a number: ${jsonText(value)}`);
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number') return String(value);
  return null;
}

function requiredTime(candidates: readonly unknown[]): number {
  for (const candidate of candidates) {
    const t = parseWindowsTime(candidate);
    // Usable: a time ClickHouse DateTime64 holds (1900-2299); else the next candidate.
    if (isEventTimeMs(t)) return t;
  }
  throw new ViewError('TimeCreated', 'no usable time between 1900 and 2299 (TimeCreated, UtcTime, @timestamp or EventTime)');
}

function get(o: Json, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/**
 * Winlogbeat's Sysmon and Security modules move some event data into ECS fields; these put the
 * Windows name back when `event_data` no longer has it. Data, not code: extend here.
 */
export const ECS_FALLBACKS: ReadonlyArray<readonly [ecsPath: string, windowsName: string]> = [
  ['process.executable', 'Image'],
  ['process.command_line', 'CommandLine'],
  ['process.pid', 'ProcessId'],
  ['process.entity_id', 'ProcessGuid'],
  ['process.working_directory', 'CurrentDirectory'],
  ['process.parent.executable', 'ParentImage'],
  ['process.parent.command_line', 'ParentCommandLine'],
  ['process.parent.pid', 'ParentProcessId'],
  ['process.parent.entity_id', 'ParentProcessGuid'],
  ['source.ip', 'SourceIp'],
  ['source.port', 'SourcePort'],
  ['destination.ip', 'DestinationIp'],
  ['destination.port', 'DestinationPort'],
  ['destination.domain', 'DestinationHostname'],
  ['network.transport', 'Protocol'],
  ['dns.question.name', 'QueryName'],
  ['file.path', 'TargetFilename'],
  ['registry.path', 'TargetObject'],
];

function winlogbeatData(o: Json, winlog: Json): Json {
  const data: Json = {};
  const userData = winlog['user_data'];
  if (isObject(userData)) Object.assign(data, userData);
  const eventData = winlog['event_data'];
  if (isObject(eventData)) Object.assign(data, eventData);
  for (const [ecsPath, name] of ECS_FALLBACKS) {
    if (data[name] !== undefined) continue;
    const value = get(o, ecsPath);
    if (value !== undefined && value !== null) data[name] = typeof value === 'number' ? String(value) : value;
  }
  if (data['User'] === undefined) {
    const name = text(get(o, 'user.name'));
    const domain = text(get(o, 'user.domain'));
    if (name !== null) data['User'] = domain === null ? name : `${domain}\\${name}`;
  }
  if (data['Hashes'] === undefined) {
    const hash = get(o, 'process.hash') ?? get(o, 'file.hash');
    if (isObject(hash)) {
      const parts = Object.entries(hash).filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k.toUpperCase()}=${String(v)}`);
      if (parts.length > 0) data['Hashes'] = parts.join(',');
    }
  }
  return data;
}

/** Reads either shape; throws ViewError when EventID or every time field is missing. */
export function toView(o: Json): WindowsView {
  const winlog = o['winlog'];
  if (isObject(winlog)) {
    const channel = text(winlog['channel']) ?? '';
    return {
      eventId: eventIdOf(winlog['event_id'] ?? get(o, 'event.code')),
      channel,
      channelKey: channel.toLowerCase(),
      provider: text(winlog['provider_name']),
      computer: text(winlog['computer_name']) ?? text(get(o, 'host.name')),
      // Winlogbeat's @timestamp is the event's TimeCreated.
      time: requiredTime([o['@timestamp'], get(o, 'event.created')]),
      recordId: text(winlog['record_id']),
      executionPid: parseId(get(winlog, 'process.pid')),
      data: winlogbeatData(o, winlog),
      shape: 'winlogbeat',
    };
  }
  const channel = text(o['Channel']) ?? '';
  const host = o['host'];
  return {
    eventId: eventIdOf(o['EventID']),
    channel,
    channelKey: channel.toLowerCase(),
    provider: text(o['ProviderName']) ?? text(o['SourceName']) ?? (isObject(o['Provider']) ? text(o['Provider']['Name']) : text(o['Provider'])),
    // `host` in NXLog/Logstash output is the collector (e.g. the WEC server), so it comes last.
    computer: text(o['Computer']) ?? text(o['Hostname']) ?? (isObject(host) ? text(host['name']) : null),
    // TimeCreated is the event's own time; Sysmon's UtcTime is next best; @timestamp may be the
    // shipper's receive time; NXLog's EventTime is local time without a zone (read as UTC).
    time: requiredTime([o['TimeCreated'], o['UtcTime'], o['@timestamp'], o['EventTime']]),
    recordId: text(o['EventRecordID']) ?? text(o['RecordNumber']),
    executionPid: parseId(o['ExecutionProcessID'] ?? o['ExecutionProcessId']),
    data: o,
    shape: 'flat',
  };
}
