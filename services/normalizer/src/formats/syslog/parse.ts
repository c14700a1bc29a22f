import { closestYearTime, MONTHS, utcTime, zoneOffsetMinutes } from '../cef/time.ts';
import { isEventTimeMs } from '../event-limits.ts';

/**
 * Syslog message syntax: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`) and the BSD
 * form of RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`). Pure text to a typed record.
 */

export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** One structured-data element of RFC 5424: `[id name="value" ...]`. */
export interface StructuredElement {
  id: string;
  params: [string, string][];
}

export interface SyslogMessage {
  /** `5424` or `3164` (also for PRI-less lines from log files). */
  rfc: '5424' | '3164';
  /** 0..191; null when the line had no PRI (read from a file). */
  pri: number | null;
  /** Epoch ms; null when the message had no timestamp (5424 NILVALUE). */
  time: number | null;
  /** Whether the time zone was not in the message and UTC was assumed (3164). */
  zoneAssumed: boolean;
  host: string | null;
  app: string | null;
  procId: string | null;
  msgId: string | null;
  structuredData: StructuredElement[];
  msg: string;
}

/** Why a line is not syslog; `field` names the part to blame. */
export class SyslogSyntaxError extends Error {
  constructor(message: string, readonly field: string | undefined = undefined, readonly invalidValue = false) {
    super(message);
  }
}

const nil = (token: string): string | null => (token === '-' ? null : token);

/** RFC 3339 as RFC 5424 allows it: `2024-03-01T12:00:00.123456+01:00` or `...Z`. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Epoch ms of an RFC 3339 time; NaN when it is not one, or not within 1900-2299 (what an event's time holds: ClickHouse DateTime64). */
export function parseRfc3339(text: string): number {
  const m = RFC3339.exec(text);
  if (!m) return Number.NaN;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const wall = utcTime(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const offset = zoneOffsetMinutes(m[8]!);
  const t = offset === undefined ? Number.NaN : wall - offset * 60_000;
  return isEventTimeMs(t) ? t : Number.NaN;
}

/** Reads `<PRI>`; returns the PRI and where the rest starts, or null PRI when absent. */
function readPri(line: string): { pri: number | null; rest: number } {
  if (line.charCodeAt(0) !== 60 /* < */) return { pri: null, rest: 0 };
  const close = line.indexOf('>', 1);
  if (close < 2 || close > 4) throw new SyslogSyntaxError('PRI is not <0..191>', 'pri');
  const digits = line.slice(1, close);
  if (!/^\d{1,3}$/.test(digits) || (digits.length > 1 && digits[0] === '0')) throw new SyslogSyntaxError(`PRI <${digits}> is not a number`, 'pri');
  const pri = Number(digits);
  if (pri > 191) throw new SyslogSyntaxError(`PRI ${pri} is above 191`, 'pri', true);
  return { pri, rest: close + 1 };
}

/** Splits off one space-terminated token starting at `at`. */
function token(line: string, at: number): [string, number] {
  const space = line.indexOf(' ', at);
  return space === -1 ? [line.slice(at), line.length] : [line.slice(at, space), space + 1];
}

function unescapeParam(text: string): string {
  return text.replace(/\\(["\\\]])/g, '$1');
}

/** RFC 5424 STRUCTURED-DATA at `at`: `-` or one or more elements; returns them and where MSG starts. */
function readStructuredData(line: string, at: number): [StructuredElement[], number] {
  if (line[at] === '-') return [[], at + 1];
  if (line[at] !== '[') throw new SyslogSyntaxError('STRUCTURED-DATA is neither - nor [', 'structured_data');
  const elements: StructuredElement[] = [];
  let i = at;
  while (line[i] === '[') {
    i++;
    const idEnd = i + (/^[^\s=\]"]{1,64}/.exec(line.slice(i, i + 65))?.[0].length ?? 0);
    if (idEnd === i) throw new SyslogSyntaxError('SD-ID is empty', 'structured_data');
    const element: StructuredElement = { id: line.slice(i, idEnd), params: [] };
    i = idEnd;
    while (line[i] === ' ') {
      while (line[i] === ' ') i++;
      if (line[i] === ']') break;
      const eq = line.indexOf('=', i);
      if (eq === -1 || line[eq + 1] !== '"') throw new SyslogSyntaxError(`SD-PARAM in [${element.id}] lacks ="value"`, 'structured_data');
      const name = line.slice(i, eq);
      if (!/^[^\s=\]"]{1,32}$/.test(name)) throw new SyslogSyntaxError(`SD-PARAM name ${JSON.stringify(name.slice(0, 40))} is invalid`, 'structured_data');
      let j = eq + 2;
      for (; j < line.length; j++) {
        const c = line[j];
        if (c === '\\') j++;
        else if (c === '"') break;
      }
      if (j >= line.length) throw new SyslogSyntaxError(`SD-PARAM ${name} is not closed`, 'structured_data');
      element.params.push([name, unescapeParam(line.slice(eq + 2, j))]);
      i = j + 1;
    }
    if (line[i] !== ']') throw new SyslogSyntaxError(`SD-ELEMENT [${element.id}] is not closed`, 'structured_data');
    i++;
    elements.push(element);
  }
  return [elements, i];
}

function parse5424(line: string, pri: number | null, at: number): SyslogMessage {
  let i = at + 2; // "1 "
  let stamp: string, host: string, app: string, procId: string, msgId: string;
  [stamp, i] = token(line, i);
  [host, i] = token(line, i);
  [app, i] = token(line, i);
  [procId, i] = token(line, i);
  [msgId, i] = token(line, i);
  if (i >= line.length && msgId === '') throw new SyslogSyntaxError('RFC 5424 header is cut short', 'header');
  let time: number | null = null;
  if (stamp !== '-') {
    time = parseRfc3339(stamp);
    if (Number.isNaN(time)) throw new SyslogSyntaxError(`TIMESTAMP ${JSON.stringify(stamp.slice(0, 40))} is not an RFC 3339 time between 1900 and 2299`, 'timestamp', true);
  }
  const [structuredData, end] = i < line.length ? readStructuredData(line, i) : [[], i];
  let msg = end < line.length && line[end] === ' ' ? line.slice(end + 1) : line.slice(end);
  if (end < line.length && line[end] !== ' ') throw new SyslogSyntaxError('no space after STRUCTURED-DATA', 'structured_data');
  if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
  return { rfc: '5424', pri, time, zoneAssumed: false, host: nil(host), app: nil(app), procId: nil(procId), msgId: nil(msgId), structuredData, msg };
}

const BSD_STAMP = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? /;
const ISO_STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) /i;
/** `TAG[PID]:` or `TAG:`; TAG is up to 48 characters without space, `[` or `:`. */
const TAG = /^([^\s[\]:]{1,48})(?:\[([^\]\s]{1,32})\])?: ?/;
const TAG_TOKEN = /^[^\s[\]:]{1,48}(\[[^\]\s]{1,32}\])?:$/;

function parse3164(line: string, pri: number | null, at: number, referenceMs: number): SyslogMessage {
  const rest = line.slice(at);
  let time: number;
  let zoneAssumed = false;
  let after: number;
  const bsd = BSD_STAMP.exec(rest);
  if (bsd) {
    const month = MONTHS[bsd[1]!.toLowerCase()];
    if (month === undefined) throw new SyslogSyntaxError(`month ${bsd[1]} is unknown`, 'timestamp', true);
    const ms = bsd[6] === undefined ? 0 : Number(bsd[6].slice(0, 3).padEnd(3, '0'));
    time = closestYearTime(referenceMs, month, Number(bsd[2]), Number(bsd[3]), Number(bsd[4]), Number(bsd[5]), ms);
    if (Number.isNaN(time)) throw new SyslogSyntaxError(`timestamp ${JSON.stringify(bsd[0].trim())} is not a date`, 'timestamp', true);
    zoneAssumed = true;
    after = bsd[0].length;
  } else {
    const iso = ISO_STAMP.exec(rest);
    if (!iso) throw new SyslogSyntaxError('no RFC 3164 (Mmm dd hh:mm:ss) or RFC 3339 timestamp', 'timestamp');
    time = parseRfc3339(iso[1]!);
    if (Number.isNaN(time)) throw new SyslogSyntaxError(`timestamp ${iso[1]} is not a date between 1900 and 2299`, 'timestamp', true);
    after = iso[0].length;
  }
  let body = rest.slice(after);
  // HOST is absent on some devices (the TAG follows the time directly): a first token that is a
  // TAG (`sshd[12]:` / `su:`) is not a host.
  let host: string | null = null;
  const first = /^(\S{1,255}) /.exec(body);
  // `CEF:0|...` right after the time is the message, neither host nor tag.
  if (first && !TAG_TOKEN.test(first[1]!) && !body.startsWith('CEF:')) {
    host = first[1]!;
    body = body.slice(first[0].length);
  }
  let app: string | null = null;
  let procId: string | null = null;
  const tag = body.startsWith('CEF:') ? null : TAG.exec(body);
  if (tag) {
    app = tag[1]!;
    procId = tag[2] ?? null;
    body = body.slice(tag[0].length);
  }
  return { rfc: '3164', pri, time, zoneAssumed, host, app, procId, msgId: null, structuredData: [], msg: body };
}

/**
 * Parses one syslog line. RFC 5424 when `<PRI>1 ` starts it; otherwise the BSD form (PRI optional,
 * so lines from `/var/log/auth.log` files parse too). A BSD timestamp has no year: the year closest
 * to `referenceMs` (the record's ingest time) is taken, see closestYearTime. Throws SyslogSyntaxError.
 */
export function parseSyslog(line: string, referenceMs: number): SyslogMessage {
  const { pri, rest } = readPri(line);
  if (line.startsWith('1 ', rest) && pri !== null) return parse5424(line, pri, rest);
  return parse3164(line, pri, rest, referenceMs);
}

/** Whether a line starts a new syslog message (to split records that hold several). */
export function startsMessage(line: string): boolean {
  return /^(<\d{1,3}>|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT\d\d:\d\d)/.test(line);
}
