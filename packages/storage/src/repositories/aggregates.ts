import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';
import { fromStoredIp } from '../rows/convert.ts';
import { assertIdentifier, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { comparePeers, comparePorts } from './entity-cache.ts';
import { boundedLimit } from './filters.ts';
import { boundedRange, oneOf, orgScope } from './scope.ts';

/** Longest range the hourly roll-ups answer in one call (400 days). */
export const MAX_AGGREGATE_RANGE_MS = 400 * 86_400_000;

/** One hour of one address, from `entity_hourly`. */
export interface EntityHour {
  /** Start of the hour, epoch ms. */
  hour: number;
  connsAsSrc: number;
  connsAsDst: number;
  /** Bytes the address sent (as source: bytes_out; as destination: bytes_in). */
  bytesSent: number;
  bytesReceived: number;
  /** Distinct peer addresses (approximate, `uniq`). */
  peers: number;
  /** Distinct destination ports (approximate). */
  ports: number;
}

/**
 * The hours overlapping [since, until) as bounds on the roll-ups' `hour` (DateTime) column, in whole
 * seconds computed here: compared as DateTime, not converted to DateTime64 row by row. Clamped to
 * DateTime's range, which holds every hour a roll-up can store.
 */
function hourBounds(range: { since: number; until: number }): { hourFrom: number; hourTo: number } {
  const clamp = (s: number) => Math.min(Math.max(s, 0), 0xffff_ffff);
  return { hourFrom: clamp(Math.floor(range.since / 3_600_000) * 3_600), hourTo: clamp(Math.ceil(range.until / 1_000)) };
}

const HOUR_FROM_SQL = "hour >= toDateTime({hourFrom:UInt32}, 'UTC')";
const HOUR_SQL = `${HOUR_FROM_SQL} AND hour < toDateTime({hourTo:UInt32}, 'UTC')`;

/**
 * Settings of the reads of one address's roll-up rows (here and the API's first/last seen): one
 * thread; no JIT compilation of the aggregates (compiled again for every statement, ~1.5 ms of CPU
 * each, for a few thousand rows); and the engine's cache of decompressed blocks, since every page of
 * an address reads the same few blocks of each part (on chDB its size is MAMORI_CHDB_UNCOMPRESSED_CACHE_MB).
 */
export const ENTITY_READ = 'SETTINGS max_threads = 1, compile_expressions = 0, compile_aggregate_expressions = 0, use_uncompressed_cache = 1';

/** Per-hour activity of one address in [since, until), oldest first; hours without traffic are absent. */
export async function entityHourly(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  options: QueryOptions = {},
): Promise<EntityHour[]> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  if (scope === undefined) return [];
  const rows = await driver.query(
    `SELECT toUnixTimestamp(hour) * 1000 AS hour_ms, sum(conns_as_src) AS conns_as_src, sum(conns_as_dst) AS conns_as_dst,
       sum(bytes_sent) AS bytes_sent, sum(bytes_received) AS bytes_received, uniqMerge(peers) AS peers, uniqMerge(ports) AS ports
FROM ${db}.entity_hourly
WHERE ${scope.sql}
GROUP BY hour ORDER BY hour
${ENTITY_READ}`,
    scope.params,
    options,
  );
  return rows.map((r) => ({
    hour: toNumber(r['hour_ms']),
    connsAsSrc: toNumber(r['conns_as_src']),
    connsAsDst: toNumber(r['conns_as_dst']),
    bytesSent: toNumber(r['bytes_sent']),
    bytesReceived: toNumber(r['bytes_received']),
    peers: toNumber(r['peers']),
    ports: toNumber(r['ports']),
  }));
}

/** Groupings of {@link detectionCountsHourly}. */
export const DETECTION_COUNT_GROUPS = ['severity', 'rule'] as const;
export type DetectionCountGroup = (typeof DETECTION_COUNT_GROUPS)[number];

/** Distinct detections first seen in one hour, for one severity or rule. */
export interface DetectionCountHour {
  hour: number;
  /** The severity or rule id, per `groupBy`. */
  key: string;
  count: number;
}

/** Detections per hour (by `first_seen`) grouped by severity or rule, oldest first. */
export async function detectionCountsHourly(
  driver: StorageDriver,
  orgIds: readonly string[],
  since: number,
  until: number,
  groupBy: DetectionCountGroup,
  options: QueryOptions = {},
): Promise<DetectionCountHour[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const range = boundedRange(since, until, MAX_AGGREGATE_RANGE_MS);
  const key = oneOf('groupBy', groupBy, DETECTION_COUNT_GROUPS) === 'rule' ? 'rule_id' : 'severity';
  const rows = await driver.query(
    `SELECT toUnixTimestamp(hour) * 1000 AS hour_ms, ${key} AS key, uniqExactMerge(detections) AS n
FROM ${db}.detection_counts_hourly
WHERE org_id IN {orgIds:Array(String)} AND ${HOUR_SQL}
GROUP BY hour, key ORDER BY hour, key`,
    { orgIds: orgs, ...hourBounds(range) },
    options,
  );
  return rows.map((r) => ({ hour: toNumber(r['hour_ms']), key: String(r['key']), count: toNumber(r['n']) }));
}

/** Rankings of {@link topEntities}. */
export const TOP_ENTITY_METRICS = ['bytes_sent', 'bytes_received', 'connections', 'peers', 'ports'] as const;
export type TopEntityMetric = (typeof TOP_ENTITY_METRICS)[number];

/** One address and its totals over the range. */
export interface TopEntity {
  orgId: string;
  ip: string;
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  peers: number;
  ports: number;
}

/** The busiest addresses over [since, until) by a metric, from the hourly roll-up. */
export async function topEntities(
  driver: StorageDriver,
  orgIds: readonly string[],
  since: number,
  until: number,
  query: { by?: TopEntityMetric; limit?: number } = {},
  options: QueryOptions = {},
): Promise<TopEntity[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const range = boundedRange(since, until, MAX_AGGREGATE_RANGE_MS);
  const by = oneOf('by', query.by ?? 'bytes_sent', TOP_ENTITY_METRICS);
  const rows = await driver.query(
    `SELECT org_id, toString(ip) AS ip_text, sum(conns_as_src) + sum(conns_as_dst) AS connections,
       sum(bytes_sent) AS bytes_sent, sum(bytes_received) AS bytes_received, uniqMerge(peers) AS peers, uniqMerge(ports) AS ports
FROM ${db}.entity_hourly
WHERE org_id IN {orgIds:Array(String)} AND ${HOUR_SQL}
GROUP BY org_id, ip ORDER BY ${by} DESC, ip LIMIT {limit:UInt32}`,
    { orgIds: orgs, ...hourBounds(range), limit: boundedLimit(query.limit ?? 10) },
    options,
  );
  return rows.map((r) => ({
    orgId: String(r['org_id']),
    ip: fromStoredIp(r['ip_text']),
    connections: toNumber(r['connections']),
    bytesSent: toNumber(r['bytes_sent']),
    bytesReceived: toNumber(r['bytes_received']),
    peers: toNumber(r['peers']),
    ports: toNumber(r['ports']),
  }));
}

/** A counterpart of an address over a range: connections and bytes both ways. */
export interface EntityPeer {
  ip: string;
  connections: number;
  bytes: number;
}

/** A destination port an address used or was reached on, with its protocol. */
export interface EntityPort {
  port: number;
  protocol: string;
  connections: number;
}

/** A peer's totals and the text ClickHouse sorts it by (its stored IPv6, IPv4 as `::ffff:a.b.c.d`). */
export interface EntityPeerTotal extends EntityPeer {
  sortKey: string;
}

/** Most rows one of {@link entityPeerTotals} or {@link entityPortTotals} returns. */
export const MAX_ENTITY_TOTALS = 100_000;

/** Most candidates {@link entityRange} takes per list. */
export const MAX_CANDIDATE_KEYS = 1000;

/** A peer row with its totals from the columns named. */
function peerRow(r: Record<string, unknown>, connections: string, bytes: string): EntityPeerTotal {
  const sortKey = String(r['key']);
  return { ip: fromStoredIp(sortKey), sortKey, connections: toNumber(r[connections]), bytes: toNumber(r[bytes]) };
}

/** A port row with its count from the column named. */
function portRow(r: Record<string, unknown>, connections: string): EntityPort {
  return { port: toNumber(r['port']), protocol: String(r['protocol']), connections: toNumber(r[connections]) };
}

function totalsLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENTITY_TOTALS) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `limit must be an integer between 1 and ${MAX_ENTITY_TOTALS}, got ${String(limit)}`);
  }
  return limit;
}

/** The (org, ip, hour) key range of one address's roll-up rows over the hours overlapping [since, until). */
/** One address's roll-up rows in the hours overlapping [since, until) (`sql`), or from since on (`sinceSql`). */
function entityScope(orgIds: readonly string[], ip: string, since: number, until: number): { sql: string; sinceSql: string; params: Record<string, unknown> } | undefined {
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return undefined;
  if (typeof ip !== 'string' || isIP(ip) === 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', `ip ${JSON.stringify(ip)} is not an IP address`);
  const range = boundedRange(since, until, MAX_AGGREGATE_RANGE_MS);
  const key = 'org_id IN {orgIds:Array(String)} AND ip = toIPv6({ip:String})';
  return { sql: `${key} AND ${HOUR_SQL}`, sinceSql: `${key} AND ${HOUR_FROM_SQL}`, params: { orgIds: orgs, ip, ...hourBounds(range) } };
}

/**
 * The `limit` busiest peers of one address over the hours overlapping [since, until), from
 * `entity_peer_hourly` (migration 0006): by connections, then by the peer's stored text, so pages
 * are stable.
 */
export async function entityPeerTotals(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  limit: number,
  options: QueryOptions = {},
): Promise<EntityPeerTotal[]> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  if (scope === undefined) return [];
  const rows = await driver.query(
    `SELECT toString(peer) AS key, sum(connections) AS connections, sum(bytes) AS bytes
FROM ${db}.entity_peer_hourly WHERE ${scope.sql}
GROUP BY peer ORDER BY connections DESC, key LIMIT {limit:UInt32}
${ENTITY_READ}`,
    { ...scope.params, limit: totalsLimit(limit) },
    options,
  );
  return rows.map((r) => peerRow(r, 'connections', 'bytes'));
}

/**
 * The `limit` busiest destination ports (with protocol) of one address over the hours overlapping
 * [since, until), from `entity_port_hourly`: by connections, then port, then protocol.
 */
export async function entityPortTotals(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  limit: number,
  options: QueryOptions = {},
): Promise<EntityPort[]> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  if (scope === undefined) return [];
  const rows = await driver.query(
    `SELECT port, protocol, sum(connections) AS connections
FROM ${db}.entity_port_hourly WHERE ${scope.sql}
GROUP BY port, protocol ORDER BY connections DESC, port, protocol LIMIT {limit:UInt32}
${ENTITY_READ}`,
    { ...scope.params, limit: totalsLimit(limit) },
    options,
  );
  return rows.map((r) => portRow(r, 'connections'));
}

/**
 * The busiest peers and destination ports of one address over the hours overlapping [since, until):
 * {@link entityPeerTotals} and {@link entityPortTotals}, two statements run side by side (each one
 * thread over its table's key range).
 */
export async function entityTop(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  limit: number,
  options: QueryOptions = {},
): Promise<{ peers: EntityPeer[]; ports: EntityPort[] }> {
  const n = boundedLimit(limit);
  const [peers, ports] = await Promise.all([
    entityPeerTotals(driver, orgIds, ip, since, until, n, options),
    entityPortTotals(driver, orgIds, ip, since, until, n, options),
  ]);
  return { peers: peers.map(({ ip: peer, connections, bytes }) => ({ ip: peer, connections, bytes })), ports };
}

/** A top list over a whole range, and the busiest rows over its hours before a split hour. */
export interface SplitTop<T> {
  /** The first `n` rows over the whole range, in rank order. */
  top: T[];
  /** The first `k + 1` rows (at most) ranked by their totals before the split, with those totals; rows with none left out. */
  before: T[];
}

/**
 * {@link entityPeerTotals} over [since, until) and, from the same rows in the same statement, the
 * busiest `k + 1` peers over the hours before `splitAt` (an hour, epoch ms) with their totals there:
 * what the entity cache keeps of settled hours, read at the cost of one statement.
 */
export async function entityPeersSplit(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  splitAt: number,
  n: number,
  k: number,
  options: QueryOptions = {},
): Promise<SplitTop<EntityPeerTotal>> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  if (scope === undefined) return { top: [], before: [] };
  const rows = await driver.query(
    `SELECT key, c, b, bc, bb, by_total, by_before FROM (
  SELECT toString(peer) AS key, sum(connections) AS c, sum(bytes) AS b,
         sumIf(connections, hour < toDateTime({splitAt:UInt32}, 'UTC')) AS bc, sumIf(bytes, hour < toDateTime({splitAt:UInt32}, 'UTC')) AS bb,
         row_number() OVER (ORDER BY c DESC, key) AS by_total, row_number() OVER (ORDER BY bc DESC, key) AS by_before
  FROM ${db}.entity_peer_hourly WHERE ${scope.sql}
  GROUP BY peer
) WHERE by_total <= {n:UInt32} OR (by_before <= {k1:UInt32} AND bc > 0)
${ENTITY_READ}`,
    { ...scope.params, ...splitParams(splitAt, n, k) },
    options,
  );
  return {
    top: ranked(rows, 'by_total', n).map((r) => peerRow(r, 'c', 'b')),
    before: ranked(rows.filter((r) => toNumber(r['bc']) > 0), 'by_before', k + 1).map((r) => peerRow(r, 'bc', 'bb')),
  };
}

/** {@link entityPeersSplit} for the destination ports of `entity_port_hourly`. */
export async function entityPortsSplit(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  splitAt: number,
  n: number,
  k: number,
  options: QueryOptions = {},
): Promise<SplitTop<EntityPort>> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  if (scope === undefined) return { top: [], before: [] };
  const rows = await driver.query(
    `SELECT port, protocol, c, bc, by_total, by_before FROM (
  SELECT port, protocol, sum(connections) AS c, sumIf(connections, hour < toDateTime({splitAt:UInt32}, 'UTC')) AS bc,
         row_number() OVER (ORDER BY c DESC, port, protocol) AS by_total, row_number() OVER (ORDER BY bc DESC, port, protocol) AS by_before
  FROM ${db}.entity_port_hourly WHERE ${scope.sql}
  GROUP BY port, protocol
) WHERE by_total <= {n:UInt32} OR (by_before <= {k1:UInt32} AND bc > 0)
${ENTITY_READ}`,
    { ...scope.params, ...splitParams(splitAt, n, k) },
    options,
  );
  return {
    top: ranked(rows, 'by_total', n).map((r) => portRow(r, 'c')),
    before: ranked(rows.filter((r) => toNumber(r['bc']) > 0), 'by_before', k + 1).map((r) => portRow(r, 'bc')),
  };
}

function splitParams(splitAt: number, n: number, k: number): Record<string, number> {
  if (!Number.isSafeInteger(splitAt) || splitAt % 3_600_000 !== 0 || splitAt < 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', `splitAt must be the start of an hour in epoch ms, got ${String(splitAt)}`);
  return { splitAt: Math.min(splitAt / 1000, 0xffff_ffff), n: totalsLimit(n), k1: totalsLimit(k + 1) };
}

/** Rows whose rank `column` is at most `limit`, in rank order. */
function ranked(rows: readonly Record<string, unknown>[], column: string, limit: number): Record<string, unknown>[] {
  return rows.filter((r) => toNumber(r[column]) <= limit).sort((a, b) => toNumber(a[column]) - toNumber(b[column]));
}

/** Rows of a top list ranked against candidates: see {@link entityRange}. */
export interface RankedRange<T> {
  /** Candidates with rows in the range, with their totals (given plus the range's), the first `n + 1` by total. */
  candidates: T[];
  /** Other rows in the range, with the range's counts, the first `n + 1`. */
  others: T[];
}

/** One address's hours in a range: the timeline, and its peers and ports ranked against candidates. */
export interface EntityRange {
  timeline: EntityHour[];
  peers: RankedRange<EntityPeerTotal>;
  ports: RankedRange<EntityPort>;
  /**
   * Starts of the first and last hours the address was seen in at or after `since`, however late
   * (past `until` too: the page's first/last seen are all time); undefined if none.
   */
  seenHours: { first: number; last: number } | undefined;
}

/** Candidates of {@link entityRange}: their keys (a peer's stored text, {@link rangePortKey}) and totals so far. */
export interface RangeCandidates {
  keys: readonly string[];
  connections: readonly number[];
  /** Peers only. */
  bytes?: readonly number[];
}

function candidateParams(prefix: string, c: RangeCandidates): Record<string, unknown> {
  const n = c.keys.length;
  if (n > MAX_CANDIDATE_KEYS || c.connections.length !== n || (c.bytes !== undefined && c.bytes.length !== n) || c.keys.some((k) => typeof k !== 'string' || k.length > 64)) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `candidates take at most ${MAX_CANDIDATE_KEYS} keys of at most 64 characters, each with its totals`);
  }
  const counts = (xs: readonly number[]) => xs.map((x) => {
    if (!Number.isSafeInteger(x) || x < 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'candidate totals must be non-negative integers');
    return x;
  });
  // A key no row has, so that the arrays are never empty (an empty literal has no element type).
  return {
    [`${prefix}Keys`]: ['', ...c.keys],
    [`${prefix}Connections`]: [0, ...counts(c.connections)],
    [`${prefix}Bytes`]: [0, ...counts(c.bytes ?? c.connections.map(() => 0))],
  };
}

/** A port's key among {@link entityRange}'s candidates (`port/protocol`, as its ranked statement builds it). */
export const rangePortKey = (p: EntityPort): string => `${p.port}/${p.protocol}`;

/**
 * Most peers (and ports) of the range {@link entityRange} reads whole and ranks here; an address with
 * more in the range is ranked in the engine.
 */
export const RANGE_WHOLE_MAX = 5_000;

/**
 * {@link entityRange}'s read over `entity_recent`: rows of kind 0 (an hour of the timeline, from
 * `since` on without an upper bound; every one), 1 (a peer) and 2 (a port and protocol), up to
 * `{whole}` of each.
 * Peers and ports count the hours before `hourTo` only; one with none there is left out.
 */
function recentRangeSql(db: string, scope: { sql: string; sinceSql: string }): string {
  const before = "hour < toDateTime({hourTo:UInt32}, 'UTC')";
  return `SELECT multiIf(grouping(hour) = 0, 0, grouping(peer) = 0, 1, 2) AS kind, toUnixTimestamp(hour) * 1000 AS hour_ms, toString(peer) AS key, port, protocol,
       if(kind = 0, sum(conns_as_src), sumIf(conns_as_src + conns_as_dst, ${before})) AS a,
       if(kind = 0, sum(conns_as_dst), sumIf(bytes_sent + bytes_received, ${before})) AS b,
       sum(bytes_sent) AS c, sum(bytes_received) AS d, uniq(peer) AS e, uniq(port) AS f
FROM ${db}.entity_recent WHERE ${scope.sinceSql}
GROUP BY GROUPING SETS ((hour), (peer), (port, protocol))
HAVING kind = 0 OR a > 0
LIMIT {whole:UInt32} BY kind, if(kind = 0, hour_ms, 0)`;
}

/** {@link entityRange}'s read over the three hourly roll-ups: the same rows as {@link recentRangeSql}. */
function hourlyRangeSql(db: string, scope: { sql: string; sinceSql: string }): string {
  return `SELECT 0 AS kind, toUnixTimestamp(hour) * 1000 AS hour_ms, '' AS key, toUInt16(0) AS port, '' AS protocol,
       sum(conns_as_src) AS a, sum(conns_as_dst) AS b, sum(bytes_sent) AS c, sum(bytes_received) AS d, uniqMerge(peers) AS e, uniqMerge(ports) AS f
FROM ${db}.entity_hourly WHERE ${scope.sinceSql}
GROUP BY hour
UNION ALL
SELECT 1, 0, key, 0, '', connections, bytes, 0, 0, 0, 0 FROM (
  SELECT toString(peer) AS key, sum(connections) AS connections, sum(bytes) AS bytes
  FROM ${db}.entity_peer_hourly WHERE ${scope.sql}
  GROUP BY peer LIMIT {whole:UInt32}
)
UNION ALL
SELECT 2, 0, '', port, protocol, connections, 0, 0, 0, 0, 0 FROM (
  SELECT port, protocol, sum(connections) AS connections
  FROM ${db}.entity_port_hourly WHERE ${scope.sql}
  GROUP BY port, protocol LIMIT {whole:UInt32}
)`;
}

/**
 * The rows of {@link recentRangeSql} or {@link hourlyRangeSql} as one row of arrays, one per column
 * of each kind: the API parses a few arrays instead of up to 10,000 objects of eleven fields, on the
 * event loop every page shares, and 64-bit counts come as numbers (they stay below 2^53).
 */
function rangeArraysSql(rows: string): string {
  return `SELECT groupArrayIf(hour_ms, kind = 0) AS hours, groupArrayIf(a, kind = 0) AS src, groupArrayIf(b, kind = 0) AS dst,
       groupArrayIf(c, kind = 0) AS sent, groupArrayIf(d, kind = 0) AS received, groupArrayIf(e, kind = 0) AS peers, groupArrayIf(f, kind = 0) AS ports,
       groupArrayIf(key, kind = 1) AS peer_keys, groupArrayIf(a, kind = 1) AS peer_conns, groupArrayIf(b, kind = 1) AS peer_bytes,
       groupArrayIf(port, kind = 2) AS port_numbers, groupArrayIf(protocol, kind = 2) AS port_protocols, groupArrayIf(a, kind = 2) AS port_conns
FROM (
${rows}
)
${ENTITY_READ}, output_format_json_quote_64bit_integers = 0`;
}

/** One row of {@link rangeArraysSql}. */
interface RangeArrays {
  hours: number[];
  src: number[];
  dst: number[];
  sent: number[];
  received: number[];
  peers: number[];
  ports: number[];
  peer_keys: string[];
  peer_conns: number[];
  peer_bytes: number[];
  port_numbers: number[];
  port_protocols: string[];
  port_conns: number[];
}

/**
 * `entity_recent` (migration 0011) keeps two days; {@link entityRange} reads it for ranges starting
 * at most this long ago, and the three hourly roll-ups for older ones.
 */
export const ENTITY_RECENT_READ_MS = 86_400_000;

/** Where {@link entityRange} reads the range's rows: `recent` (`entity_recent`) or `hourly` (the three hourly roll-ups). */
export type EntityRangeSource = 'recent' | 'hourly';

/**
 * {@link entityHourly} over [since, until), and the peers and ports of those hours ranked against
 * candidates: the entity cache's read of the hours after the settled ones, where each statement's
 * fixed cost is a good part of the work. Each candidate found in the range gets its given totals
 * added; the result holds the first `n + 1` candidates by total and the first `n + 1` other rows by
 * their counts in the range (mergeTop in entity-cache.ts decides from them).
 *
 * One statement reads the timeline and every peer and port of the range, up to `wholeMax` each, and
 * they are ranked here. For a range starting within {@link ENTITY_RECENT_READ_MS} (`source`
 * `recent`, the default then) that is one `GROUP BY GROUPING SETS` over `entity_recent`; otherwise a
 * `UNION ALL` over `entity_hourly`, `entity_peer_hourly` and `entity_port_hourly` (`hourly`). Only an
 * address with more peers or ports runs a second statement that ranks them in the engine against the
 * candidates' arrays (`LIMIT BY`), so it reads a few dozen rows whatever their number. Binding the
 * candidates' arrays and ranking in the engine cost more than returning the rows (measured, 300
 * candidates per list: 16 ms of CPU against 26 for an address with 50 peers in its live hours, 29
 * against 36 for the benchmark's busiest source with 1,900).
 *
 * The timeline's read has no upper bound (hours after `until` only count in `seenHours`): in use
 * `until` is now, so it reads the same rows.
 */
export async function entityRange(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  since: number,
  until: number,
  n: number,
  peers: RangeCandidates,
  ports: RangeCandidates,
  options: QueryOptions = {},
  wholeMax: number = RANGE_WHOLE_MAX,
  source: EntityRangeSource = since >= Date.now() - ENTITY_RECENT_READ_MS ? 'recent' : 'hourly',
): Promise<EntityRange> {
  const db = assertIdentifier('database', driver.database);
  const scope = entityScope(orgIds, ip, since, until);
  const result: EntityRange = { timeline: [], peers: { candidates: [], others: [] }, ports: { candidates: [], others: [] }, seenHours: undefined };
  if (scope === undefined) return result;
  const n1 = totalsLimit(n + 1);
  const peerParams = candidateParams('peer', peers);
  const portParams = candidateParams('port', ports);
  const read = await driver.query<RangeArrays>(rangeArraysSql(source === 'recent' ? recentRangeSql(db, scope) : hourlyRangeSql(db, scope)), { ...scope.params, whole: wholeMax + 1 }, options);
  const r = read[0];
  if (r === undefined) throw new StorageError('CLICKHOUSE_QUERY_FAILED', 'the entity range read returned no row');
  const whole = r.peer_keys.length <= wholeMax && r.port_numbers.length <= wholeMax;
  const ranked = whole
    ? []
    : await driver.query(
        `SELECT 1 AS kind, key, toUInt16(0) AS port, '' AS protocol, candidate, total AS a, total_bytes AS b FROM (
  SELECT toString(peer) AS key, key IN {peerKeys:Array(String)} AS candidate,
         sum(connections) + transform(key, {peerKeys:Array(String)}, {peerConnections:Array(UInt64)}, toUInt64(0)) AS total,
         sum(bytes) + transform(key, {peerKeys:Array(String)}, {peerBytes:Array(UInt64)}, toUInt64(0)) AS total_bytes
  FROM ${db}.entity_peer_hourly WHERE ${scope.sql}
  GROUP BY peer ORDER BY candidate DESC, total DESC, key LIMIT {n1:UInt32} BY candidate
)
UNION ALL
SELECT 2, '', port, protocol, candidate, total, 0 FROM (
  SELECT port, protocol, concat(toString(port), '/', protocol) AS key, key IN {portKeys:Array(String)} AS candidate,
         sum(connections) + transform(key, {portKeys:Array(String)}, {portConnections:Array(UInt64)}, toUInt64(0)) AS total
  FROM ${db}.entity_port_hourly WHERE ${scope.sql}
  GROUP BY port, protocol ORDER BY candidate DESC, total DESC, port, protocol LIMIT {n1:UInt32} BY candidate
)
${ENTITY_READ}`,
        { ...scope.params, n1, ...peerParams, ...portParams },
        options,
      );
  const hourToMs = (scope.params['hourTo'] as number) * 1000;
  // The candidates' given totals, for the rows read whole.
  const settledPeers = new Map(peers.keys.map((key, i) => [key, { connections: peers.connections[i]!, bytes: peers.bytes?.[i] ?? 0 }]));
  const settledPorts = new Map(ports.keys.map((key, i) => [key, ports.connections[i]!]));
  for (let i = 0; i < r.hours.length; i++) {
    const hour = toNumber(r.hours[i]);
    const seen = result.seenHours;
    result.seenHours = seen === undefined ? { first: hour, last: hour } : { first: Math.min(seen.first, hour), last: Math.max(seen.last, hour) };
    // The timeline: the hours overlapping [since, until), as the scope's `hour < hourTo` bounds them.
    if (hour >= hourToMs) continue;
    result.timeline.push({
      hour,
      connsAsSrc: toNumber(r.src[i]),
      connsAsDst: toNumber(r.dst[i]),
      bytesSent: toNumber(r.sent[i]),
      bytesReceived: toNumber(r.received[i]),
      peers: toNumber(r.peers[i]),
      ports: toNumber(r.ports[i]),
    });
  }
  if (whole) {
    for (let i = 0; i < r.peer_keys.length; i++) {
      // The address text is made only for the rows kept (below): there may be thousands.
      const sortKey = String(r.peer_keys[i]);
      const given = settledPeers.get(sortKey);
      const row = { ip: '', sortKey, connections: toNumber(r.peer_conns[i]) + (given?.connections ?? 0), bytes: toNumber(r.peer_bytes[i]) + (given?.bytes ?? 0) };
      (given === undefined ? result.peers.others : result.peers.candidates).push(row);
    }
    for (let i = 0; i < r.port_numbers.length; i++) {
      const row = { port: toNumber(r.port_numbers[i]), protocol: String(r.port_protocols[i]), connections: toNumber(r.port_conns[i]) };
      const given = settledPorts.get(rangePortKey(row));
      if (given === undefined) result.ports.others.push(row);
      else result.ports.candidates.push({ ...row, connections: row.connections + given });
    }
  }
  for (const row of ranked) {
    const candidate = toNumber(row['candidate']) === 1;
    if (toNumber(row['kind']) === 1) (candidate ? result.peers.candidates : result.peers.others).push(peerRow(row, 'a', 'b'));
    else (candidate ? result.ports.candidates : result.ports.others).push(portRow(row, 'a'));
  }
  // The engine returns the rows in no set order: each list in its rank order again.
  result.timeline.sort((x, y) => x.hour - y.hour);
  result.peers.candidates.sort(comparePeers);
  result.peers.others.sort(comparePeers);
  result.ports.candidates.sort(comparePorts);
  result.ports.others.sort(comparePorts);
  if (whole) {
    // The first n + 1 of each, as `LIMIT BY` keeps them.
    for (const list of [result.peers, result.ports]) {
      list.candidates.length = Math.min(list.candidates.length, n1);
      list.others.length = Math.min(list.others.length, n1);
    }
    for (const p of [...result.peers.candidates, ...result.peers.others]) p.ip = fromStoredIp(p.sortKey);
  }
  return result;
}
