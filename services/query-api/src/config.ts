import { EnvReader, type Env } from '@mamori/core';
import { parseApiKeys, type ApiKey } from './auth.ts';

export interface QueryApiConfig {
  /** API_HOST. @default '127.0.0.1' */
  host: string;
  /** API_PORT. @default 8080 */
  port: number;
  /** MAMORI_API_KEYS (see auth.ts for the format). */
  apiKeys: ApiKey[];
  /** API_MAX_PAGE_SIZE: rows one request may ask for. @default 500 */
  maxPageSize: number;
  /** API_MAX_RANGE_DAYS: widest time range one query may span. @default 31 */
  maxRangeDays: number;
  /** API_QUERY_TIMEOUT_MS: ClickHouse-side limit per query. @default 10000 */
  queryTimeoutMs: number;
  /** API_BODY_LIMIT_BYTES. @default 65536 */
  bodyLimitBytes: number;
}

export function loadQueryApiConfig(env: Env): Readonly<QueryApiConfig> {
  const r = new EnvReader(env);
  let apiKeys: ApiKey[] = [];
  try {
    apiKeys = parseApiKeys(r.string('MAMORI_API_KEYS', ''));
  } catch (error) {
    r.problem((error as Error).message);
  }
  const config: QueryApiConfig = {
    host: r.string('API_HOST', '127.0.0.1'),
    port: r.integer('API_PORT', 8080, { min: 0, max: 65_535 }),
    apiKeys,
    maxPageSize: r.integer('API_MAX_PAGE_SIZE', 500, { min: 1, max: 10_000 }),
    maxRangeDays: r.integer('API_MAX_RANGE_DAYS', 31, { min: 1, max: 3660 }),
    queryTimeoutMs: r.integer('API_QUERY_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    bodyLimitBytes: r.integer('API_BODY_LIMIT_BYTES', 65_536, { min: 1024, max: 10_485_760 }),
  };
  return r.done(config);
}
