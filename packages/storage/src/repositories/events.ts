import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';
import { EVENT_SELECT_COLUMNS, eventFromClickHouse, eventToClickHouse, type EventRow } from '../rows/event-row.ts';
import { assertIdentifier } from '../sql.ts';
import type { InsertOptions, QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';

/** Inserts events in one batch (JSONEachRow). Pass a deduplication token to make a retry idempotent. */
export async function insertEvents(driver: StorageDriver, rows: readonly EventRow[], options: InsertOptions = {}): Promise<void> {
  if (rows.length === 0) return;
  await driver.insert('events', rows.map(eventToClickHouse), options);
}

/** Filters of {@link listEvents}; every one is optional and they combine with AND. */
export interface ListEventsQuery {
  /** Only these tenants; an empty list matches nothing. */
  orgIds?: readonly string[];
  /** Events at or after this time (epoch ms). */
  since?: number;
  /** Events before this time (epoch ms). */
  until?: number;
  srcIp?: string;
  dstIp?: string;
  /** @default 100 (max 1000) */
  limit?: number;
}

/** Events newest first, deduplicated (FINAL), for investigation views and tests. */
export async function listEvents(driver: StorageDriver, query: ListEventsQuery = {}, options: QueryOptions = {}): Promise<EventRow[]> {
  const db = assertIdentifier('database', driver.database);
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: boundedLimit(query.limit) };
  if (query.orgIds !== undefined) {
    if (query.orgIds.length === 0) return [];
    where.push('org_id IN {orgIds:Array(String)}');
    params['orgIds'] = [...query.orgIds];
  }
  const since = optionalTime('since', query.since);
  if (since !== undefined) {
    where.push('time >= fromUnixTimestamp64Milli({since:Int64})');
    params['since'] = since;
  }
  const until = optionalTime('until', query.until);
  if (until !== undefined) {
    where.push('time < fromUnixTimestamp64Milli({until:Int64})');
    params['until'] = until;
  }
  for (const field of ['srcIp', 'dstIp'] as const) {
    const ip = query[field];
    if (ip === undefined) continue;
    if (isIP(ip) === 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', `${field} ${JSON.stringify(ip)} is not an IP address`);
    where.push(`${field === 'srcIp' ? 'src_ip' : 'dst_ip'} = toIPv6({${field}:String})`);
    params[field] = ip;
  }
  const sql = `SELECT ${EVENT_SELECT_COLUMNS}
FROM ${db}.events FINAL
${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY time DESC, event_id DESC
LIMIT {limit:UInt32}`;
  const rows = await driver.query(sql, params, options);
  return rows.map(eventFromClickHouse);
}
