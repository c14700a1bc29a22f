import { isIPv6 } from 'node:net';
import { ipv4ToUint32 } from '@mamori/core';
import { isEventTimeMs, MAX_LONG } from '../event-limits.ts';
import { jsonText } from '../text.ts';

/**
 * One Zeek log entry as a flat object with canonical dotted keys (`id.orig_h`, `certificate.serial`,
 * `san.dns`), whatever JSON shape it arrived in. Values are as JSON gave them; `null` means unset.
 */
export type ZeekRecord = Record<string, unknown>;

/** A field that is present but cannot be what the log type says; the caller reports FIELD_INVALID. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Longest string kept in `attributes`; longer values are cut and end in `…`. */
export const MAX_ATTRIBUTE_CHARS = 1024;
/** Longest string kept in a class record field (uri, user agent, subject, ...). */
export const MAX_FIELD_CHARS = 4096;
/** Most elements kept from a list (answers, SAN names); the rest are dropped. */
export const MAX_LIST_ITEMS = 64;
/** Most keys in `attributes`; later source fields are dropped. */
export const MAX_ATTRIBUTES = 96;

/**
 * Record groups that Zeek writes with dotted names and shippers flatten with underscores
 * (`id_orig_h`). Only these prefixes are rewritten: most native Zeek names contain underscores.
 */
const GROUPS = ['id', 'certificate', 'san', 'basic_constraints', 'remote_location', 'times'];
const GROUP_SET = new Set(GROUPS);

const canonicalCache = new Map<string, string>();

/** `id_orig_h` → `id.orig_h` for the known record groups; every other key unchanged. */
export function canonicalKey(key: string): string {
  let canonical = canonicalCache.get(key);
  if (canonical !== undefined) return canonical;
  canonical = key;
  if (!key.includes('.')) {
    for (const group of GROUPS) {
      if (key.length > group.length + 1 && key.startsWith(group) && key.charCodeAt(group.length) === 95) {
        canonical = `${group}.${key.slice(group.length + 1)}`;
        break;
      }
    }
  }
  // Keys repeat line after line; the bound only guards against hostile input with endless new keys.
  if (canonicalCache.size < 10_000) canonicalCache.set(key, canonical);
  return canonical;
}

function flattenInto(out: ZeekRecord, o: Record<string, unknown>, prefix: string): void {
  for (const key in o) {
    const value = o[key];
    // Only Zeek's record groups are unnested: an object anywhere else is a value (and a bad one
    // where the mapping expects a string), never silently renamed away.
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && (prefix !== '' || GROUP_SET.has(key))) {
      flattenInto(out, value as Record<string, unknown>, `${prefix === '' ? canonicalKey(key) : prefix + key}.`);
    } else {
      out[prefix === '' ? canonicalKey(key) : prefix + key] = value;
    }
  }
}

/**
 * Dotted, underscored and nested (`"id": {"orig_h": ...}`) shapes to one flat, dotted record. Nesting
 * is undone for Zeek's record groups (`id`, `certificate`, `san`, `basic_constraints`,
 * `remote_location`, `times`).
 */
export function flattenZeek(o: Record<string, unknown>): ZeekRecord {
  // Zeek's own writer is already flat and dotted: hand it back without a copy (the common case).
  let flat = true;
  for (const key in o) {
    const value = o[key];
    if ((value !== null && typeof value === 'object' && !Array.isArray(value) && GROUP_SET.has(key)) || canonicalKey(key) !== key) {
      flat = false;
      break;
    }
  }
  if (flat) return o;
  const out: ZeekRecord = {};
  flattenInto(out, o, '');
  return out;
}

function show(value: unknown): string {
  const text = jsonText(value) || String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Cuts `s` to `max` UTF-16 units without splitting a surrogate pair; a cut string ends in `…`. */
export function cap(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** Dotted-quad IPv4, strictly (the rule of {@link ipv4ToUint32}: four parts 0..255, no leading zeros). */
export function isIPv4(s: string): boolean {
  return ipv4ToUint32(s) >= 0;
}

/** An IP address, or `null` when absent; anything else is a FieldError. */
export function optAddress(rec: ZeekRecord, field: string): string | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && (isIPv4(value) || (value.includes(':') && isIPv6(value)))) return value;
  throw new FieldError(field, `${field} is not an IP address: ${show(value)}`);
}

/** A port 0..65535 (number or numeric string), or `null` when absent. */
export function optPort(rec: ZeekRecord, field: string): number | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  throw new FieldError(field, `${field} is not a port (0..65535): ${show(value)}`);
}

/**
 * A non-negative integer (Zeek `count`) up to `max`, or `null` when absent. @default max: an Avro
 * long's bound; pass 2147483647 where the event field is an Avro int (a larger value would fail the
 * encode, and with it the batch).
 */
export function optCount(rec: ZeekRecord, field: string, max = MAX_LONG): number | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max) return n;
  throw new FieldError(field, `${field} is not a non-negative integer up to ${max}: ${show(value)}`);
}

/** A finite number ≥ 0 (Zeek `interval`, `double`), or `null` when absent. */
export function optNonNegative(rec: ZeekRecord, field: string): number | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return n;
  throw new FieldError(field, `${field} is not a non-negative number: ${show(value)}`);
}

/** Seconds to milliseconds through microseconds, so that `0.0014999` (JSON) and `0.001500` (TSV) agree. */
export function secondsToMs(seconds: number): number {
  return Math.round(Math.round(seconds * 1e6) / 1000);
}

/** A Zeek `interval` (seconds, ≥ 0) as milliseconds an event holds (an Avro long), or `null` when absent. */
export function optDurationMs(rec: ZeekRecord, field: string): number | null {
  const seconds = optNonNegative(rec, field);
  if (seconds === null) return null;
  const ms = secondsToMs(seconds);
  if (ms <= MAX_LONG) return ms;
  throw new FieldError(field, `${field} is out of range: ${show(rec[field])}`);
}

/** Zeek `bool`: JSON true/false, TSV T/F (also as strings), or `null` when absent. */
export function optBool(rec: ZeekRecord, field: string): boolean | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value;
  if (value === 'T' || value === 'true') return true;
  if (value === 'F' || value === 'false') return false;
  throw new FieldError(field, `${field} is not a boolean: ${show(value)}`);
}

/**
 * Zeek `time` to epoch ms: epoch seconds (number or numeric string, microseconds) are truncated to the
 * millisecond, as are ISO 8601 strings (`JSON::TS_ISO8601`), so both forms of one entry agree. The
 * result is an Avro long (±(2^53 − 2) ms), so a `time` field mapped anywhere on the event encodes;
 * the event's own time is narrower, see {@link eventTimeMs}.
 */
export function timeValueMs(value: unknown, field: string): number {
  let ms = Number.NaN;
  if (typeof value === 'number') {
    ms = Math.floor(Math.round(value * 1e6) / 1000);
  } else if (typeof value === 'string' && value !== '') {
    const numeric = Number(value);
    ms = Number.isFinite(numeric) ? Math.floor(Math.round(numeric * 1e6) / 1000) : Date.parse(value);
  }
  if (ms >= -MAX_LONG && ms <= MAX_LONG) return ms;
  throw new FieldError(field, `${field} is not epoch seconds or an ISO time: ${show(value)}`);
}

/** A Zeek `time` that becomes the event's time: as {@link timeValueMs}, within 1900-2299 (ClickHouse DateTime64). */
export function eventTimeMs(value: unknown, field: string): number {
  const ms = timeValueMs(value, field);
  if (isEventTimeMs(ms)) return ms;
  throw new FieldError(field, `${field} is not a time between 1900 and 2299: ${show(value)}`);
}

/** A Zeek `time` field as epoch ms, or `null` when absent. */
export function optTime(rec: ZeekRecord, field: string): number | null {
  const value = rec[field];
  return value === undefined || value === null ? null : timeValueMs(value, field);
}

/** A string (numbers and booleans as text), capped at {@link MAX_FIELD_CHARS}; `null` when absent. */
export function optString(rec: ZeekRecord, field: string): string | null {
  const value = rec[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return cap(value, MAX_FIELD_CHARS);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new FieldError(field, `${field} is not a string: ${show(value)}`);
}

/** A Zeek set or vector of strings (a lone string is a one-element list), at most {@link MAX_LIST_ITEMS}. */
export function stringList(rec: ZeekRecord, field: string): string[] {
  const value = rec[field];
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of items) {
    if (out.length === MAX_LIST_ITEMS) break;
    if (item === null || item === undefined) continue;
    if (typeof item === 'string') out.push(cap(item, MAX_FIELD_CHARS));
    else if (typeof item === 'number' || typeof item === 'boolean') out.push(String(item));
    else throw new FieldError(field, `${field} is not a list of strings: ${show(value)}`);
  }
  return out;
}

/** The first element of a set/vector field (or the field itself when it is a string). */
export function firstString(rec: ZeekRecord, field: string): string | null {
  const list = stringList(rec, field);
  return list[0] ?? null;
}

/** Doubles to at most 6 decimals: Zeek's TSV writer prints `%.6f`, its JSON writer full precision. */
function numberText(n: number): string {
  if (Number.isInteger(n) || !Number.isFinite(n)) return String(n);
  return String(Number(n.toFixed(6)));
}

function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return numberText(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return jsonText(value);
}

/** Keys that describe the log writer, not the entry; only the JSON form has them. Never attributes. */
const WRITER_KEYS = new Set(['_path', '_write_ts']);

/**
 * Every source field not mapped onto the event, as bounded strings: lists joined with `,` (empty
 * elements and empty lists omitted), doubles to 6 decimals, the log type's `time` fields as epoch ms, strings capped at
 * {@link MAX_ATTRIBUTE_CHARS}, at most {@link MAX_ATTRIBUTES} keys. Unknown fields land here too.
 */
export function attributesOf(rec: ZeekRecord, mapped: ReadonlySet<string>, times: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const key in rec) {
    if (mapped.has(key) || WRITER_KEYS.has(key)) continue;
    const value = rec[key];
    if (value === undefined || value === null) continue;
    let text: string;
    if (times.has(key)) {
      text = String(timeValueMs(value, key));
    } else if (Array.isArray(value)) {
      // TSV writes a set holding only '' as `(empty)`, like an empty set: '' elements carry nothing.
      const items = value.slice(0, MAX_LIST_ITEMS).map(scalarText).filter((item) => item !== '');
      if (items.length === 0) continue;
      text = items.join(',');
    } else {
      text = scalarText(value);
    }
    out[key] = cap(text, MAX_ATTRIBUTE_CHARS);
    if (++n === MAX_ATTRIBUTES) break;
  }
  return out;
}
