import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';
import { EVENT_SELECT_COLUMNS, eventFromClickHouse, eventToClickHouse, type EventRow } from '../rows/event-row.ts';
import { assertIdentifier } from '../sql.ts';
import type { InsertOptions, QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';
import { ipRange } from './ip-range.ts';
import { boundedRange, containsPattern, orgScope } from './scope.ts';

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

/** Longest time range {@link searchEvents} scans (31 days). */
export const MAX_SEARCH_RANGE_MS = 31 * 86_400_000;

/** Filters of {@link searchEvents}. The time range is required and bounded. */
export interface SearchEventsQuery {
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive; at most 31 days after `since`. */
  until: number;
  /** Source address or CIDR. */
  srcIp?: string;
  /** Destination address or CIDR. */
  dstIp?: string;
  /** Either side, address or CIDR. */
  ip?: string;
  /** Source or destination port. */
  port?: number;
  dstPort?: number;
  protocol?: string;
  eventClass?: string | readonly string[];
  /** Case-insensitive substring of dns_query, http_host or tls_sni (1-200 characters). */
  text?: string;
  /** Exact community id. */
  communityId?: string;
  userName?: string;
  hostName?: string;
  siteId?: string;
  direction?: string;
  /** @default 100 (max 1000) */
  limit?: number;
}

/**
 * Event search for investigations: newest first within a required time range of at most 31 days.
 * IP filters accept CIDRs (ranges on the IPv6 column); text search uses the n-gram skip indexes on
 * `lower(dns_query)`, `lower(http_host)`, `lower(tls_sni)`. Not deduplicated with FINAL (a replayed
 * event can appear twice until merges collapse it): FINAL over a month of events costs more than
 * the rare duplicate.
 */
export async function searchEvents(
  driver: StorageDriver,
  orgIds: readonly string[],
  query: SearchEventsQuery,
  options: QueryOptions = {},
): Promise<EventRow[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const range = boundedRange(query.since, query.until, MAX_SEARCH_RANGE_MS);
  const where = [
    'org_id IN {orgIds:Array(String)}',
    'time >= fromUnixTimestamp64Milli({since:Int64})',
    'time < fromUnixTimestamp64Milli({until:Int64})',
  ];
  const params: Record<string, unknown> = { orgIds: orgs, since: range.since, until: range.until, limit: boundedLimit(query.limit) };
  const ipFilter = (name: 'srcIp' | 'dstIp' | 'ip', value: string | undefined): void => {
    if (value === undefined) return;
    const r = ipRange(name, value);
    params[`${name}Lo`] = r.lo;
    params[`${name}Hi`] = r.hi;
    const between = (column: string) => `${column} BETWEEN toIPv6({${name}Lo:String}) AND toIPv6({${name}Hi:String})`;
    where.push(name === 'ip' ? `(${between('src_ip')} OR ${between('dst_ip')})` : between(name === 'srcIp' ? 'src_ip' : 'dst_ip'));
  };
  ipFilter('srcIp', query.srcIp);
  ipFilter('dstIp', query.dstIp);
  ipFilter('ip', query.ip);
  const port = (name: string, value: number | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be 0-65535`);
    return value;
  };
  const anyPort = port('port', query.port);
  if (anyPort !== undefined) {
    where.push('(src_port = {port:UInt16} OR dst_port = {port:UInt16})');
    params['port'] = anyPort;
  }
  const dstPort = port('dstPort', query.dstPort);
  if (dstPort !== undefined) {
    where.push('dst_port = {dstPort:UInt16}');
    params['dstPort'] = dstPort;
  }
  const exact: [keyof SearchEventsQuery, string][] = [
    ['protocol', 'protocol'],
    ['communityId', 'community_id'],
    ['userName', 'user_name'],
    ['hostName', 'host_name'],
    ['siteId', 'site_id'],
    ['direction', 'direction'],
  ];
  for (const [field, column] of exact) {
    const v = query[field];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new StorageError('STORAGE_INVALID_ARGUMENT', `${field} must be a string`);
    where.push(`${column} = {${field}:String}`);
    params[field] = v;
  }
  if (query.eventClass !== undefined) {
    where.push('event_class IN {eventClasses:Array(String)}');
    params['eventClasses'] = typeof query.eventClass === 'string' ? [query.eventClass] : [...query.eventClass];
  }
  if (query.text !== undefined) {
    where.push('(lower(dns_query) LIKE {textPattern:String} OR lower(http_host) LIKE {textPattern:String} OR lower(tls_sni) LIKE {textPattern:String})');
    params['textPattern'] = containsPattern('text', query.text);
  }
  const rows = await driver.query(
    `SELECT ${EVENT_SELECT_COLUMNS}
FROM ${db}.events
WHERE ${where.join(' AND ')}
ORDER BY time DESC, event_id DESC
LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(eventFromClickHouse);
}
