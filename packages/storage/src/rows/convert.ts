import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';
import { toNumber } from '../sql.ts';

export function invalid(kind: string, field: string, problem: string): StorageError {
  return new StorageError('STORAGE_INVALID_ARGUMENT', `${kind}.${field} ${problem}`);
}

export function requireString(kind: string, input: Readonly<Record<string, unknown>>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') throw invalid(kind, field, 'must be a non-empty string');
  return value;
}

export function optionalString(kind: string, input: Readonly<Record<string, unknown>>, field: string, fallback = ''): string {
  const value = input[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw invalid(kind, field, 'must be a string');
  return value;
}

/** Epoch milliseconds; a Date or an ISO string is accepted and converted. */
export function requireTime(kind: string, input: Readonly<Record<string, unknown>>, field: string): number {
  const value = input[field];
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw invalid(kind, field, 'must be epoch milliseconds');
  return Math.trunc(ms);
}

export function unsigned(
  kind: string,
  input: Readonly<Record<string, unknown>>,
  field: string,
  max = Number.MAX_SAFE_INTEGER,
  fallback = 0,
): number {
  const value = input[field];
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
    throw invalid(kind, field, `must be an integer between 0 and ${max}`);
  }
  return n;
}

export function requireIp(kind: string, input: Readonly<Record<string, unknown>>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || isIP(value) === 0) throw invalid(kind, field, 'must be an IPv4 or IPv6 address');
  return value;
}

export function stringArray(kind: string, input: Readonly<Record<string, unknown>>, field: string): string[] {
  const value = input[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw invalid(kind, field, 'must be an array of strings');
  }
  return [...value];
}

export function stringMap(kind: string, input: Readonly<Record<string, unknown>>, field: string): Record<string, string> {
  const value = input[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(kind, field, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(kind, `${field}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}

/** `::ffff:10.0.0.1` (how IPv6 columns return IPv4) back to `10.0.0.1`. */
export function fromStoredIp(value: unknown): string {
  const text = String(value);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  return mapped?.[1] ?? text;
}

export function num(value: unknown): number {
  return toNumber(value);
}

export function strMap(value: unknown): Record<string, string> {
  return value !== null && typeof value === 'object' ? { ...(value as Record<string, string>) } : {};
}

export function strArray(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}
