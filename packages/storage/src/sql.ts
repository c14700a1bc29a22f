import { DATETIME64_MAX_MS, DATETIME64_MIN_MS } from '@mamori/core';
import { StorageError } from './errors.ts';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Checks a database or table name before it is placed in SQL text. Identifiers are the only
 * thing ever interpolated (they come from config, not from users); values are always bound.
 */
export function assertIdentifier(kind: 'database' | 'table', value: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new StorageError(
      'STORAGE_INVALID_ARGUMENT',
      `${kind} name ${JSON.stringify(value)} is not a plain identifier (letters, digits, underscore; not starting with a digit)`,
    );
  }
  return value;
}

/**
 * Appends query-level settings (`SETTINGS k = v`) to a statement. chDB has no per-call settings
 * argument, so this is how `max_execution_time` reaches it. Values are numbers only.
 */
export function appendSettings(sql: string, settings: Readonly<Record<string, number>>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return sql;
  const body = sql.trimEnd().replace(/;$/, '');
  // A trailing FORMAT clause must stay last; the adapters choose formats themselves, so refuse.
  if (/\bFORMAT\s+\w+$/i.test(body)) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', 'statements passed to the driver must not carry a FORMAT clause');
  }
  // A statement that already has its own query-level SETTINGS gets a syntax error from the engine
  // here; the repositories never write one, so this stays simple.
  const list = entries.map(([key, value]) => `${assertSettingName(key)} = ${Number(value)}`).join(', ');
  return `${body}\nSETTINGS ${list}`;
}

function assertSettingName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new StorageError('STORAGE_INVALID_ARGUMENT', `bad setting name ${JSON.stringify(name)}`);
  return name;
}

/** Milliseconds to seconds for `max_execution_time` (fractional seconds are accepted). */
export function timeoutSetting(timeoutMs: number | undefined): Record<string, number> {
  if (timeoutMs === undefined) return {};
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `timeoutMs must be a positive number, got ${String(timeoutMs)}`);
  }
  return { max_execution_time: Math.max(timeoutMs, 1) / 1000 };
}

/** Epoch milliseconds to the text form of DateTime64(3, 'UTC'): `2025-01-02 03:04:05.678`. */
export function toDateTime64(ms: number): string {
  if (!Number.isFinite(ms) || ms < DATETIME64_MIN_MS || ms > DATETIME64_MAX_MS) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `timestamp ${String(ms)} is not epoch milliseconds between 1900 and 2299`);
  }
  const iso = new Date(Math.trunc(ms)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** A JSON number or a quoted 64-bit integer (JSON formats quote UInt64/Int64) to a JS number. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') return Number(value);
  if (typeof value === 'bigint') return Number(value);
  return Number.NaN;
}
