import { StorageError, type QueryOptions } from '@mamori/storage';
import type { QueryApiConfig } from '../config.ts';

/**
 * Guard rails every route applies to what it asks of ClickHouse: a bounded time range, a bounded
 * page, a ClickHouse-side timeout. Violations are STORAGE_INVALID_ARGUMENT, which the app's error
 * handler turns into 400.
 */

export const DAY_MS = 86_400_000;

/** JSON schema of a time parameter. */
export const TIME_PARAM = { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch milliseconds' } as const;

export function badRequest(message: string): StorageError {
  return new StorageError('STORAGE_INVALID_ARGUMENT', message);
}

export function parseTime(name: string, text: string): number {
  const ms = /^\d{1,15}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw badRequest(`${name} must be an ISO 8601 time or epoch milliseconds`);
  return ms;
}

export interface TimeRange {
  since: number;
  until: number;
}

/**
 * `since`/`until` from the query string, defaulting to the `defaultDays` before `until` (now + 1 day
 * when absent, so clock skew does not hide fresh rows); refuses an empty or over-wide range.
 */
export function timeRange(config: Pick<QueryApiConfig, 'maxRangeDays'>, q: { since?: string | undefined; until?: string | undefined }, defaultDays = 7): TimeRange {
  const until = q.until === undefined ? Date.now() + DAY_MS : parseTime('until', q.until);
  const since = q.since === undefined ? until - Math.min(defaultDays, config.maxRangeDays) * DAY_MS : parseTime('since', q.since);
  if (since >= until) throw badRequest('since must be before until');
  if (until - since > config.maxRangeDays * DAY_MS) throw badRequest(`the time range may span at most ${config.maxRangeDays} days`);
  return { since, until };
}

/** The page size: the requested one (the schema already bounded it) or the default. */
export function pageSize(config: Pick<QueryApiConfig, 'maxPageSize'>, limit: number | undefined): number {
  return limit ?? Math.min(100, config.maxPageSize);
}

/** JSON schema of `limit`. */
export function limitParam(config: Pick<QueryApiConfig, 'maxPageSize'>): Record<string, unknown> {
  return { type: 'integer', minimum: 1, maximum: config.maxPageSize, default: Math.min(100, config.maxPageSize) };
}

/** The options every storage call of a request carries. */
export function queryOptions(config: Pick<QueryApiConfig, 'queryTimeoutMs'>): QueryOptions {
  return { timeoutMs: config.queryTimeoutMs };
}
