import { isIP } from 'node:net';
import type { MamoriEvent, ProcessInfo } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../../event-id.ts';
import { NormalizeError } from '../../errors.ts';
import type { DecodeContext, DecodeResult } from '../../types.ts';
import { failureReason } from './status-codes.ts';
import { isObject, parseId, SYSTEM_KEYS, toView, ViewError, type Json, type WindowsView } from './view.ts';
import { jsonText } from '../../text.ts';
import { forEachJsonObject } from '../../json.ts';

export const WINDOWS_EVENT_FORMAT_ID = 'windows.event';

/** Event data fields copied to attributes at most. */
export const MAX_DATA_ATTRIBUTES = 64;
/** Longest event data value kept in attributes. */
export const MAX_ATTRIBUTE_CHARS = 2048;
/** Longest PowerShell script block / pipeline payload kept (attribute `ScriptBlockText`, `Payload`). */
export const SCRIPT_TEXT_MAX_CHARS = 8192;

const SECURITY = 'security';
const SYSMON = 'microsoft-windows-sysmon/operational';
const POWERSHELL = new Set(['microsoft-windows-powershell/operational', 'powershellcore/operational']);

/** Reads event data by Windows name and remembers what was used, so the rest goes to attributes. */
class Fields {
  readonly used = new Set<string>();
  constructor(readonly data: Json) {}

  /** The value as text; '' and '-' (Windows' "none") are null. */
  str(key: string): string | null {
    this.used.add(key);
    const value = this.data[key];
    if (typeof value === 'string') return value === '' || value === '-' ? null : value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return null;
  }

  id(key: string): number | null {
    this.used.add(key);
    return parseId(this.data[key]);
  }
}

function basename(path: string | null): string | null {
  if (path === null) return null;
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i === -1 ? path : path.slice(i + 1) || null;
}

/** `DOMAIN\user`; a name that already has a domain (`A\b`, `b@realm`) stays as it is. */
export function domainUser(domain: string | null, name: string | null): string | null {
  if (name === null) return null;
  if (domain === null || name.includes('\\') || name.includes('@')) return name;
  return `${domain}\\${name}`;
}

/** Sysmon `Hashes`: `SHA1=..,MD5=..,SHA256=..,IMPHASH=..` → lower-case keys and values. */
export function parseHashes(value: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null) return out;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().toLowerCase();
  }
  return out;
}

/** Windows addresses: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, Kerberos events) becomes IPv4. */
function ipOf(value: string | null): string | null {
  if (value === null) return null;
  const v = value.startsWith('::ffff:') && isIP(value.slice(7)) === 4 ? value.slice(7) : value;
  return isIP(v) === 0 ? null : v;
}

function portOf(value: number | null): number {
  return value !== null && value <= 65535 ? value : 0;
}

const INTEGRITY_BY_SID: Readonly<Record<string, string>> = {
  'S-1-16-0': 'Untrusted',
  'S-1-16-4096': 'Low',
  'S-1-16-8192': 'Medium',
  'S-1-16-8448': 'MediumPlus',
  'S-1-16-12288': 'High',
  'S-1-16-16384': 'System',
  'S-1-16-20480': 'Protected',
};

function emptyProcess(): ProcessInfo {
  return {
    pid: null, name: null, path: null, command_line: null, guid: null, user: null, integrity_level: null, hashes: {},
    parent_pid: null, parent_name: null, parent_path: null, parent_command_line: null, parent_guid: null,
  };
}

/** The acting process of a Sysmon event (`Image`, `ProcessId`, `ProcessGuid`, `User`). */
function sysmonActor(f: Fields): ProcessInfo {
  const path = f.str('Image');
  return { ...emptyProcess(), pid: f.id('ProcessId'), path, name: basename(path), guid: f.str('ProcessGuid'), user: f.str('User') };
}

type Mapper = (f: Fields, v: WindowsView, e: MamoriEvent) => void;
interface Mapping {
  readonly eventClass: string;
  readonly activity: string;
  readonly map: Mapper;
}

// ---- Security: authentication ----

const KERBEROS_IDS = new Set([4768, 4769, 4771]);

function authentication(f: Fields, v: WindowsView, e: MamoriEvent): void {
  const id = v.eventId;
  const subjectOnly = id === 4672;
  const user = subjectOnly ? f.str('SubjectUserName') : f.str('TargetUserName');
  const domain = subjectOnly ? f.str('SubjectDomainName') : f.str('TargetDomainName');
  const status = f.str('Status');
  const subStatus = f.str('SubStatus');
  let result = 'success';
  if (id === 4625 || id === 4771) result = 'failure';
  else if ((KERBEROS_IDS.has(id) || id === 4776) && status !== null && status !== '0x0') result = 'failure';
  const code = subStatus !== null && subStatus !== '0x0' ? subStatus : status;
  const pkg = f.str('AuthenticationPackageName');
  const protocol = KERBEROS_IDS.has(id) ? 'kerberos' : id === 4776 ? 'ntlm' : pkg === null ? null : pkg.toLowerCase();
  const workstation = f.str('WorkstationName') ?? f.str('Workstation');
  const ip = ipOf(f.str('IpAddress'));
  e.auth = {
    user,
    domain,
    result,
    protocol,
    logon_type: f.str('LogonType'),
    service: f.str('ServiceName') ?? f.str('TargetServerName'),
    failure_reason: result === 'failure' && code !== null ? failureReason(code, KERBEROS_IDS.has(id)) : null,
    workstation: workstation === null ? null : workstation.replace(/^\\\\/, ''),
    logon_id: subjectOnly ? f.str('SubjectLogonId') : (f.str('TargetLogonId') ?? f.str('SubjectLogonId')),
  };
  e.user = domainUser(domain, user);
  if (ip !== null) {
    e.src_ip = ip;
    e.src_port = portOf(f.id('IpPort'));
  }
}

// ---- Security: process and object access ----

function securityProcessCreate(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  const path = f.str('NewProcessName');
  const parentPath = f.str('ParentProcessName');
  // TargetUserName is set (4688 v2) when the new process runs as another account than the creator.
  const target = domainUser(f.str('TargetDomainName'), f.str('TargetUserName'));
  const subject = domainUser(f.str('SubjectDomainName'), f.str('SubjectUserName'));
  const label = f.str('MandatoryLabel');
  e.process = {
    ...emptyProcess(),
    pid: f.id('NewProcessId'),
    path,
    name: basename(path),
    command_line: f.str('CommandLine'),
    user: target ?? subject,
    integrity_level: label === null ? null : (INTEGRITY_BY_SID[label] ?? label),
    parent_pid: f.id('ProcessId'),
    parent_path: parentPath,
    parent_name: basename(parentPath),
  };
  e.user = target ?? subject;
}

function securityProcessExit(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  const path = f.str('ProcessName');
  const subject = domainUser(f.str('SubjectDomainName'), f.str('SubjectUserName'));
  e.process = { ...emptyProcess(), pid: f.id('ProcessId'), path, name: basename(path), user: subject };
  e.user = subject;
}

/** 4656/4663 on a file (or a registry key: ObjectType `Key`, see securityObjectMapping). */
function securityObjectAccess(f: Fields, v: WindowsView, e: MamoriEvent): void {
  const objectName = f.str('ObjectName');
  const processPath = f.str('ProcessName');
  const subject = domainUser(f.str('SubjectDomainName'), f.str('SubjectUserName'));
  e.process = { ...emptyProcess(), pid: f.id('ProcessId'), path: processPath, name: basename(processPath), user: subject };
  e.user = subject;
  const action = v.eventId === 4656 ? 'handle_requested' : 'accessed';
  if (f.str('ObjectType') === 'Key') e.registry = { action, key: objectName, value_name: null, value_data: null };
  else e.file = { action, path: objectName, name: basename(objectName), size: null, mime_type: null, hashes: {} };
}

// ---- Sysmon ----

function sysmonProcessCreate(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  const actor = sysmonActor(f);
  const parentPath = f.str('ParentImage');
  e.process = {
    ...actor,
    command_line: f.str('CommandLine'),
    integrity_level: f.str('IntegrityLevel'),
    hashes: parseHashes(f.str('Hashes')),
    parent_pid: f.id('ParentProcessId'),
    parent_path: parentPath,
    parent_name: basename(parentPath),
    parent_command_line: f.str('ParentCommandLine'),
    parent_guid: f.str('ParentProcessGuid'),
  };
  e.user = actor.user;
}

function sysmonProcessOnly(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  e.process = sysmonActor(f);
  e.user = e.process.user;
}

function sysmonNetwork(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  sysmonProcessOnly(f, _v, e);
  e.src_ip = ipOf(f.str('SourceIp')) ?? '';
  e.src_port = portOf(f.id('SourcePort'));
  e.dst_ip = ipOf(f.str('DestinationIp')) ?? '';
  e.dst_port = portOf(f.id('DestinationPort'));
  e.protocol = (f.str('Protocol') ?? '').toLowerCase();
}

/** Image load: `process` is the loading process, `file` the loaded module with its hashes. */
function sysmonImageLoad(f: Fields, v: WindowsView, e: MamoriEvent): void {
  sysmonProcessOnly(f, v, e);
  const loaded = f.str('ImageLoaded');
  e.file = { action: 'loaded', path: loaded, name: basename(loaded), size: null, mime_type: null, hashes: parseHashes(f.str('Hashes')) };
}

/**
 * Remote thread (8) and process access (10): `process` is the source (the actor); the target process
 * stays in attributes (`TargetImage`, `TargetProcessId`, `TargetProcessGuid`/`GUID`, `GrantedAccess`, ...).
 */
function sysmonCrossProcess(f: Fields, _v: WindowsView, e: MamoriEvent): void {
  const path = f.str('SourceImage');
  const user = f.str('SourceUser');
  e.process = {
    ...emptyProcess(),
    pid: f.id('SourceProcessId'),
    path,
    name: basename(path),
    guid: f.str('SourceProcessGuid') ?? f.str('SourceProcessGUID'),
    user,
  };
  e.user = user;
}

const FILE_ACTIONS: Readonly<Record<number, string>> = { 2: 'time_changed', 11: 'created', 15: 'stream_created', 23: 'deleted', 26: 'deleted' };

function sysmonFile(f: Fields, v: WindowsView, e: MamoriEvent): void {
  sysmonProcessOnly(f, v, e);
  const path = f.str('TargetFilename');
  e.file = { action: FILE_ACTIONS[v.eventId] ?? null, path, name: basename(path), size: null, mime_type: null, hashes: parseHashes(f.str('Hashes') ?? f.str('Hash')) };
}

/** Sysmon 12/13/14. 13's TargetObject ends with the value name; 12's EventType tells key or value. */
function sysmonRegistry(f: Fields, v: WindowsView, e: MamoriEvent): void {
  sysmonProcessOnly(f, v, e);
  const target = f.str('TargetObject');
  const eventType = f.str('EventType');
  let action: string | null = null;
  if (v.eventId === 13) action = 'set';
  else if (v.eventId === 14) action = 'rename';
  else if (eventType === 'CreateKey' || eventType === 'CreateValue') action = 'create';
  else if (eventType === 'DeleteKey' || eventType === 'DeleteValue') action = 'delete';
  const isValue = v.eventId === 13 || eventType === 'CreateValue' || eventType === 'DeleteValue';
  const cut = isValue && target !== null ? target.lastIndexOf('\\') : -1;
  e.registry = {
    action,
    key: cut > 0 && target !== null ? target.slice(0, cut) : target,
    value_name: cut > 0 && target !== null ? target.slice(cut + 1) : null,
    value_data: f.str('Details'),
  };
}

/** Sysmon QueryStatus is a Win32 / DNS API status; the common ones as DNS rcode names. */
const DNS_STATUS: Readonly<Record<string, string>> = {
  '0': 'NOERROR',
  '9001': 'FORMERR',
  '9002': 'SERVFAIL',
  '9003': 'NXDOMAIN',
  '9004': 'NOTIMP',
  '9005': 'REFUSED',
  '9501': 'NO_RECORDS',
  '1460': 'TIMEOUT',
};

/** QueryResults: `type:  5 cname.example;::ffff:10.0.0.1;` → [`cname.example`, `10.0.0.1`]. */
export function parseQueryResults(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const raw of value.split(';')) {
    let item = raw.trim();
    if (item === '' || item === '-') continue;
    const typed = /^type:\s*\d+\s+(.*)$/.exec(item);
    if (typed) item = typed[1] ?? '';
    if (item.startsWith('::ffff:') && isIP(item.slice(7)) === 4) item = item.slice(7);
    if (item !== '') out.push(item);
  }
  return out;
}

function sysmonDns(f: Fields, v: WindowsView, e: MamoriEvent): void {
  sysmonProcessOnly(f, v, e);
  const name = f.str('QueryName');
  const lower = name?.toLowerCase() ?? null;
  const status = f.str('QueryStatus');
  e.dns = {
    query: lower !== null && lower.endsWith('.') ? lower.slice(0, -1) : lower,
    qtype: null,
    rcode: status === null ? null : (DNS_STATUS[status] ?? status),
    answers: parseQueryResults(f.str('QueryResults')),
    trans_id: null,
    rejected: null,
  };
}

// ---- PowerShell ----

function bounded(e: MamoriEvent, key: string, value: string | null): void {
  if (value === null) return;
  e.attributes[key] = value.length > SCRIPT_TEXT_MAX_CHARS ? value.slice(0, SCRIPT_TEXT_MAX_CHARS) : value;
  if (value.length > SCRIPT_TEXT_MAX_CHARS) e.attributes[`${key}.length`] = String(value.length);
}

function powershellUser(f: Fields): string | null {
  return domainUser(f.str('Domain'), f.str('AccountName'));
}

/** 4104: the script block; `process.pid` is the PowerShell host that ran it (the event's writer). */
function powershellScriptBlock(f: Fields, v: WindowsView, e: MamoriEvent): void {
  const user = powershellUser(f);
  e.process = { ...emptyProcess(), pid: v.executionPid, user };
  e.user = user;
  bounded(e, 'ScriptBlockText', f.str('ScriptBlockText'));
}

/** 4103 ContextInfo lines `Name = value`; Host Application is the host's command line. */
function contextInfo(text: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === null) return out;
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf(' = ');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 3).trim();
  }
  return out;
}

function powershellPipeline(f: Fields, v: WindowsView, e: MamoriEvent): void {
  const context = f.str('ContextInfo');
  const info = contextInfo(context);
  const user = info['User'] ?? powershellUser(f);
  e.process = { ...emptyProcess(), pid: v.executionPid, command_line: info['Host Application'] ?? null, user };
  e.user = user;
  if (info['Command Name']) e.attributes['CommandName'] = info['Command Name'];
  if (info['Script Name']) e.attributes['ScriptName'] = info['Script Name'];
  bounded(e, 'Payload', f.str('Payload'));
  bounded(e, 'ContextInfo', context);
}

// ---- dispatch ----

const AUTH: Mapping['eventClass'] = 'authentication';
const SECURITY_MAPPINGS: ReadonlyMap<number, Mapping> = new Map([
  [4624, { eventClass: AUTH, activity: 'logon', map: authentication }],
  [4625, { eventClass: AUTH, activity: 'logon', map: authentication }],
  [4634, { eventClass: AUTH, activity: 'logoff', map: authentication }],
  [4647, { eventClass: AUTH, activity: 'logoff', map: authentication }],
  [4648, { eventClass: AUTH, activity: 'explicit_credentials', map: authentication }],
  [4672, { eventClass: AUTH, activity: 'special_privileges', map: authentication }],
  [4768, { eventClass: AUTH, activity: 'kerberos_tgt', map: authentication }],
  [4769, { eventClass: AUTH, activity: 'kerberos_service_ticket', map: authentication }],
  [4771, { eventClass: AUTH, activity: 'kerberos_preauth', map: authentication }],
  [4776, { eventClass: AUTH, activity: 'credential_validation', map: authentication }],
  [4688, { eventClass: 'process_activity', activity: 'create', map: securityProcessCreate }],
  [4689, { eventClass: 'process_activity', activity: 'terminate', map: securityProcessExit }],
  [4656, { eventClass: 'file_activity', activity: 'handle_requested', map: securityObjectAccess }],
  [4663, { eventClass: 'file_activity', activity: 'access', map: securityObjectAccess }],
]);

const SYSMON_MAPPINGS: ReadonlyMap<number, Mapping> = new Map([
  [1, { eventClass: 'process_activity', activity: 'create', map: sysmonProcessCreate }],
  [2, { eventClass: 'file_activity', activity: 'time_changed', map: sysmonFile }],
  [3, { eventClass: 'network_activity', activity: 'connect', map: sysmonNetwork }],
  [5, { eventClass: 'process_activity', activity: 'terminate', map: sysmonProcessOnly }],
  [7, { eventClass: 'process_activity', activity: 'image_load', map: sysmonImageLoad }],
  [8, { eventClass: 'process_activity', activity: 'create_remote_thread', map: sysmonCrossProcess }],
  [10, { eventClass: 'process_activity', activity: 'access', map: sysmonCrossProcess }],
  [11, { eventClass: 'file_activity', activity: 'create', map: sysmonFile }],
  [12, { eventClass: 'registry_activity', activity: 'create_or_delete', map: sysmonRegistry }],
  [13, { eventClass: 'registry_activity', activity: 'set', map: sysmonRegistry }],
  [14, { eventClass: 'registry_activity', activity: 'rename', map: sysmonRegistry }],
  [15, { eventClass: 'file_activity', activity: 'stream_created', map: sysmonFile }],
  [22, { eventClass: 'dns_activity', activity: 'query', map: sysmonDns }],
  [23, { eventClass: 'file_activity', activity: 'delete', map: sysmonFile }],
  [26, { eventClass: 'file_activity', activity: 'delete', map: sysmonFile }],
]);

const POWERSHELL_MAPPINGS: ReadonlyMap<number, Mapping> = new Map([
  [4103, { eventClass: 'process_activity', activity: 'pipeline_execution', map: powershellPipeline }],
  [4104, { eventClass: 'process_activity', activity: 'script_block', map: powershellScriptBlock }],
]);

/** 4656/4663 on a registry key (`ObjectType: Key`): the same mappings as registry activity, built once. */
const SECURITY_REGISTRY_MAPPINGS: ReadonlyMap<number, Mapping> = new Map(
  [4656, 4663].flatMap((id) => {
    const m = SECURITY_MAPPINGS.get(id);
    return m === undefined ? [] : [[id, { ...m, eventClass: 'registry_activity' }] as const];
  }),
);

/** Every other event: class `base_event`, its event data in attributes (bounded). Never dropped. */
export const GENERIC_CLASS = 'base_event';

function mappingFor(v: WindowsView, data: Json): Mapping | undefined {
  if (v.channelKey === SECURITY) {
    if ((v.eventId === 4656 || v.eventId === 4663) && data['ObjectType'] === 'Key') return SECURITY_REGISTRY_MAPPINGS.get(v.eventId);
    return SECURITY_MAPPINGS.get(v.eventId);
  }
  if (v.channelKey === SYSMON) return SYSMON_MAPPINGS.get(v.eventId);
  if (POWERSHELL.has(v.channelKey)) return POWERSHELL_MAPPINGS.get(v.eventId);
  return undefined;
}

function attributeText(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return jsonText(value);
}

/** Event data not read into a record, by its Windows name, bounded in count and length. */
function copyRest(f: Fields, v: WindowsView, attributes: Record<string, string>): void {
  let kept = 0;
  let truncated = false;
  for (const key in f.data) {
    if (f.used.has(key) || (v.shape === 'flat' && SYSTEM_KEYS.has(key)) || key in attributes) continue;
    const text = attributeText(f.data[key]);
    if (text === undefined) continue;
    if (kept >= MAX_DATA_ATTRIBUTES) {
      truncated = true;
      break;
    }
    kept++;
    if (text.length > MAX_ATTRIBUTE_CHARS) {
      attributes[key] = text.slice(0, MAX_ATTRIBUTE_CHARS);
      truncated = true;
    } else {
      attributes[key] = text;
    }
  }
  if (truncated) attributes['attributes_truncated'] = 'true';
}

/** One parsed Windows event (either shape) to an event; throws ViewError for the caller to report. */
export function windowsToEvent(o: Json, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const v = toView(o);
  const mapping = mappingFor(v, v.data);
  const attributes: Record<string, string> = { EventID: String(v.eventId), Channel: v.channel };
  if (v.provider !== null) attributes['ProviderName'] = v.provider;
  if (v.recordId !== null) attributes['EventRecordID'] = v.recordId;
  if (mapping !== undefined) attributes['activity'] = mapping.activity;
  const event: MamoriEvent = {
    event_id: eventIdAt(prefix, line),
    event_class: mapping?.eventClass ?? GENERIC_CLASS,
    time: v.time,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: WINDOWS_EVENT_FORMAT_ID,
    src_ip: '',
    src_port: 0,
    dst_ip: '',
    dst_port: 0,
    protocol: '',
    bytes_out: 0,
    bytes_in: 0,
    packets_out: 0,
    packets_in: 0,
    duration_ms: 0,
    conn_state: null,
    community_id: null,
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes,
    host: v.computer,
    user: null,
  };
  const fields = new Fields(v.data);
  mapping?.map(fields, v, event);
  copyRest(fields, v, attributes);
  return event;
}

/**
 * Windows event JSON (OTRF/NXLog flat or Winlogbeat) to events. A record holds NDJSON lines (or one
 * pretty-printed object); line i becomes the event with id FNV-1a(topic:partition:offset:i).
 */
export function decodeWindowsEvent(bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  const convert = (o: Json, line: number): void => {
    try {
      out.events.push(windowsToEvent(o, ctx, prefix, line));
    } catch (error) {
      if (!(error instanceof ViewError)) throw error;
      out.errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
    }
  };
  forEachJsonObject(text, convert, (error) => out.errors.push(error));
  return out;
}

/** JSON lines with `EventID` + `Channel` (flat) or a `winlog` object with `event_id`/`channel`. */
export function sniffWindowsEvent(head: string): number {
  let seen = 0;
  let matched = 0;
  for (const raw of head.split('\n', 20)) {
    const chunk = raw.trim();
    if (chunk === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(chunk);
    } catch {
      continue;
    }
    if (!isObject(o)) return 0;
    seen++;
    const winlog = o['winlog'];
    if (o['EventID'] !== undefined && o['Channel'] !== undefined) matched++;
    else if (isObject(winlog) && (winlog['event_id'] !== undefined || winlog['channel'] !== undefined)) matched++;
  }
  return seen === 0 ? 0 : 0.95 * (matched / seen);
}
