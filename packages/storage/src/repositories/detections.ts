import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';
import {
  DETECTION_SELECT_COLUMNS,
  SEVERITY_RANK,
  detectionFromClickHouse,
  detectionToClickHouse,
  isSeverity,
  type DetectionRow,
  type Severity,
} from '../rows/detection-row.ts';
import { assertIdentifier, toNumber } from '../sql.ts';
import type { InsertOptions, QueryOptions, StorageDriver } from '../types.ts';
import type { DetectionHeadsCache, DetectionHeadsReader } from './detection-heads-cache.ts';
import { DETECTION_STATUSES, getDetectionStates, type DetectionState, type DetectionStatus } from './detection-state.ts';
import type { DetectionRowCache, TriageStateCache } from './detection-cache.ts';
import { boundedLimit, optionalTime } from './filters.ts';
import { ipRange } from './ip-range.ts';
import { containsPattern, oneOf } from './scope.ts';

/** Inserts detections (new ones or new versions of existing ones) in one batch. */
export async function insertDetections(
  driver: StorageDriver,
  rows: readonly DetectionRow[],
  options: InsertOptions = {},
): Promise<void> {
  if (rows.length === 0) return;
  await driver.insert('detections', rows.map(detectionToClickHouse), options);
}

/** Orders of {@link listDetections}; all newest/highest first unless `order: 'asc'`. */
export const DETECTION_SORTS = ['last_seen', 'first_seen', 'severity'] as const;
export type DetectionSort = (typeof DETECTION_SORTS)[number];

/** Filters of {@link listDetections}; every one is optional and they combine with AND. */
export interface ListDetectionsQuery {
  /** Only these tenants (the caller's authorization); an empty list matches nothing. */
  orgIds?: readonly string[];
  /** Detections whose latest evidence (`lastSeen`) is at or after this time (epoch ms). */
  since?: number;
  /** Detections whose latest evidence is before this time (epoch ms). */
  until?: number;
  /** This severity and above. */
  minSeverity?: Severity;
  ruleId?: string;
  /** Exact source address (IPv4 or IPv6). */
  srcIp?: string;
  /**
   * Triage status from `detection_state_current` (a detection never triaged is `new`); one or
   * several.
   */
  status?: DetectionStatus | readonly DetectionStatus[];
  /** Current assignee (exact); '' for unassigned. */
  assignee?: string;
  /** ATT&CK technique; `T1071` also matches its sub-techniques (`T1071.001`). */
  technique?: string;
  /**
   * Address or CIDR (IPv4, IPv6, or IPv4-mapped IPv6 such as `::ffff:10.0.0.0/104`) matched against
   * the source address and an `ip` entity.
   */
  entityIp?: string;
  /** Case-insensitive substring of the title (1-200 characters). */
  text?: string;
  /** @default 'last_seen' */
  sort?: DetectionSort;
  /** @default 'desc' */
  order?: 'asc' | 'desc';
  /** Also return the current triage state of each detection on the page (`states`). */
  includeState?: boolean;
  /** Page size. @default 100 (max 1000) */
  limit?: number;
  /** `nextCursor` of the previous page (same filters and sort). */
  cursor?: string;
}

/** One page of detections in the requested order. */
export interface DetectionPage {
  detections: DetectionRow[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
  /** With `includeState`: the current triage state per detection id (absent: never triaged, `new`). */
  states?: Record<string, DetectionState>;
}

interface Cursor {
  lastSeen: number;
  detectionId: string;
}

/** Opaque keyset cursor: the (lastSeen, detectionId) of the last row of a page. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.lastSeen, cursor.detectionId])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isInteger(value[0]) && typeof value[1] === 'string') {
      return { lastSeen: value[0] as number, detectionId: value[1] };
    }
  } catch {
    // fall through to the typed error
  }
  throw new StorageError('STORAGE_INVALID_ARGUMENT', 'cursor is not one this API returned');
}

/** Keyset position for any sort: [sort, order, ...key values]; the last-seen/desc form stays the 2-element one. */
function encodeSortCursor(sort: DetectionSort, order: 'asc' | 'desc', row: DetectionRow): string {
  if (sort === 'last_seen' && order === 'desc') return encodeCursor({ lastSeen: row.lastSeen, detectionId: row.detectionId });
  const keys = sort === 'severity' ? [SEVERITY_RANK[row.severity], row.lastSeen, row.detectionId] : [sort === 'first_seen' ? row.firstSeen : row.lastSeen, row.detectionId];
  return Buffer.from(JSON.stringify([sort, order, ...keys])).toString('base64url');
}

function decodeSortCursor(text: string, sort: DetectionSort, order: 'asc' | 'desc'): (number | string)[] {
  if (sort === 'last_seen' && order === 'desc') {
    const c = decodeCursor(text);
    return [c.lastSeen, c.detectionId];
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const want = sort === 'severity' ? 3 : 2;
  if (
    Array.isArray(value) &&
    value[0] === sort &&
    value[1] === order &&
    value.length === want + 2 &&
    value.slice(2, -1).every((v) => Number.isInteger(v)) &&
    typeof value[value.length - 1] === 'string'
  ) {
    return value.slice(2) as (number | string)[];
  }
  throw new StorageError('STORAGE_INVALID_ARGUMENT', 'cursor is not one this API returned for this sort');
}

function orgFilter(orgIds: readonly string[] | undefined, where: string[], params: Record<string, unknown>): boolean {
  if (orgIds === undefined) return true;
  if (orgIds.length === 0) return false;
  where.push('org_id IN {orgIds:Array(String)}');
  params['orgIds'] = [...orgIds];
  return true;
}

/** A list query as SQL pieces: the WHERE clauses, bound parameters and sort key of one page. */
interface ListPlan {
  where: string[];
  params: Record<string, unknown>;
  /** The sort key columns with their direction, for ORDER BY. */
  orderBy: string;
  limit: number;
  sort: DetectionSort;
  order: 'asc' | 'desc';
}

/**
 * Validates `query` and turns it into WHERE clauses over the columns `detections`,
 * `detection_heads` and `detections_by_ip` share (every filter and sort column is in all three);
 * undefined when the org scope matches nothing. `byIp`: the address filter as the key range of
 * `detections_by_ip` (whose `ip` holds each of the addresses the general clause tests).
 */
function listPlan(db: string, query: ListDetectionsQuery, byIp = false): ListPlan | undefined {
  const limit = boundedLimit(query.limit);
  const sort = oneOf('sort', query.sort ?? 'last_seen', DETECTION_SORTS);
  const order = oneOf('order', query.order ?? 'desc', ['asc', 'desc'] as const);
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: limit + 1 };
  if (!orgFilter(query.orgIds, where, params)) return undefined;
  const stateOrgs = query.orgIds === undefined ? '' : 'org_id IN {orgIds:Array(String)} AND ';
  const since = optionalTime('since', query.since);
  if (since !== undefined) {
    where.push('last_seen >= fromUnixTimestamp64Milli({since:Int64})');
    params['since'] = since;
  }
  const until = optionalTime('until', query.until);
  if (until !== undefined) {
    where.push('last_seen < fromUnixTimestamp64Milli({until:Int64})');
    params['until'] = until;
  }
  if (query.minSeverity !== undefined) {
    if (!isSeverity(query.minSeverity)) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `minSeverity must be one of ${Object.keys(SEVERITY_RANK).join(', ')}`);
    }
    where.push('severity_rank >= {minRank:UInt8}');
    params['minRank'] = SEVERITY_RANK[query.minSeverity];
  }
  if (query.ruleId !== undefined) {
    where.push('rule_id = {ruleId:String}');
    params['ruleId'] = query.ruleId;
  }
  if (query.srcIp !== undefined) {
    if (isIP(query.srcIp) === 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', `srcIp ${JSON.stringify(query.srcIp)} is not an IP address`);
    where.push('src_ip = toIPv6({srcIp:String})');
    params['srcIp'] = query.srcIp;
  }
  if (query.status !== undefined) {
    const statuses = (typeof query.status === 'string' ? [query.status] : [...query.status]).map((s) => oneOf('status', s, DETECTION_STATUSES));
    if (statuses.length === 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'status must name at least one status');
    params['statuses'] = statuses;
    // A detection without a state row is `new`: when `new` is wanted, exclude those whose current
    // state is something else; otherwise include those whose current state matches.
    where.push(
      statuses.includes('new')
        ? `detection_id NOT IN (SELECT detection_id FROM ${db}.detection_state_current FINAL WHERE ${stateOrgs}status NOT IN {statuses:Array(String)})`
        : `detection_id IN (SELECT detection_id FROM ${db}.detection_state_current FINAL WHERE ${stateOrgs}status IN {statuses:Array(String)})`,
    );
  }
  if (query.assignee !== undefined) {
    params['assignee'] = query.assignee;
    where.push(
      query.assignee === ''
        ? `detection_id NOT IN (SELECT detection_id FROM ${db}.detection_state_current FINAL WHERE ${stateOrgs}assignee != '')`
        : `detection_id IN (SELECT detection_id FROM ${db}.detection_state_current FINAL WHERE ${stateOrgs}assignee = {assignee:String})`,
    );
  }
  if (query.technique !== undefined) {
    if (typeof query.technique !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(query.technique)) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', 'technique must look like T1071 or T1071.001');
    }
    where.push("(has(techniques, {technique:String}) OR arrayExists(t -> startsWith(t, concat({technique:String}, '.')), techniques))");
    params['technique'] = query.technique;
  }
  if (query.entityIp !== undefined) {
    const range = ipRange('entityIp', query.entityIp);
    where.push(
      byIp
        ? 'ip BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})'
        : "((src_ip BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})) OR (entity_type = 'ip' AND ifNull(toIPv6OrNull(entity_value), toIPv6('::')) BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})))",
    );
    params['ipLo'] = range.lo;
    params['ipHi'] = range.hi;
  }
  if (query.text !== undefined) {
    where.push('lower(title) LIKE {titlePattern:String}');
    params['titlePattern'] = containsPattern('text', query.text);
  }
  const cmp = order === 'desc' ? '<' : '>';
  const dir = order === 'desc' ? 'DESC' : 'ASC';
  const keyColumns =
    sort === 'severity' ? ['severity_rank', 'last_seen', 'detection_id'] : [sort === 'first_seen' ? 'first_seen' : 'last_seen', 'detection_id'];
  if (query.cursor !== undefined) {
    const values = decodeSortCursor(query.cursor, sort, order);
    const bound = values.map((v, i) => {
      const column = keyColumns[i] ?? 'detection_id';
      params[`c${i}`] = v;
      if (column === 'detection_id') return `{c${i}:String}`;
      if (column === 'severity_rank') return `{c${i}:UInt8}`;
      return `fromUnixTimestamp64Milli({c${i}:Int64})`;
    });
    where.push(`(${keyColumns.join(', ')}) ${cmp} (${bound.join(', ')})`);
  }
  return { where, params, orderBy: keyColumns.map((c) => `${c} ${dir}`).join(', '), limit, sort, order };
}

const whereSql = (where: readonly string[]): string => (where.length > 0 ? `WHERE ${where.join(' AND ')}` : '');

/**
 * A list whose window starts at most this many days ago picks on `detection_heads_recent`
 * (migration 0009: a row TTL of 35 days on `last_seen`, a day of margin for clocks and TTL timing).
 */
export const RECENT_HEADS_DAYS = 34;
const DAY_MS = 86_400_000;

/** The heads table a pick over `last_seen >= since` reads: the recent one when the window lies within its TTL. */
function headsFor(since: number | undefined): string {
  return since !== undefined && since >= Date.now() - RECENT_HEADS_DAYS * DAY_MS ? 'detection_heads_recent' : 'detection_heads';
}

/**
 * Settings of the small interactive reads: one thread parses and merges a few thousand narrow rows
 * faster than several, and hot blocks come from the engine's decompressed-block cache.
 */
const SMALL_READ = 'SETTINGS max_threads = 1, use_uncompressed_cache = 1';

/**
 * Detections in the requested order (default newest `lastSeen` first), latest version of each,
 * filtered and paged with a keyset cursor. Two steps: the page's (id, version, last_seen) are picked
 * on the narrow `detection_heads` (migration 0007; `FINAL` gives the latest version there as on
 * `detections`), or on `detection_heads_recent` (0009) when the window starts within
 * {@link RECENT_HEADS_DAYS} (the API's default list: the last 7 days), so the pick reads the
 * organization's recent detections rather than all it ever had; then their full rows are read from
 * `detections_by_time` by its primary key range (org, the page's last_seen span) and id, at the same
 * time as their triage state. Status and
 * assignee filters read the current triage state (`detection_state_current`). A list filtered by
 * address (`entityIp`) picks on `detections_by_ip` instead (whose key starts with the address) and
 * reads missing rows there. Every value is bound; the organization scope applies to each statement.
 * `cache`: rows of picked versions held from earlier calls, so only the others are read.
 * `heads`: with them, a page in the default order without filters other than the window (and one
 * address) is picked from the newest heads held there ({@link DetectionHeadsCache}) where they
 * decide it: `list` for the organizations' list within {@link RECENT_HEADS_DAYS} (instead of
 * `detection_heads_recent FINAL`), `address` for one address's (the entity page's; instead of
 * `detections_by_ip FINAL`).
 */
export async function listDetections(
  driver: StorageDriver,
  query: ListDetectionsQuery = {},
  options: QueryOptions = {},
  cache?: DetectionRowCache,
  stateCache?: TriageStateCache,
  heads?: HeadsCaches,
): Promise<DetectionPage> {
  const db = assertIdentifier('database', driver.database);
  const byIp = query.entityIp !== undefined;
  const plan = listPlan(db, query, byIp);
  if (plan === undefined) return { detections: [] };
  const { where, params, orderBy, limit } = plan;
  const table = byIp ? 'detections_by_ip' : headsFor(query.since);
  const headsCache = byIp ? heads?.address : table === 'detection_heads_recent' ? heads?.list : undefined;
  const fromHeads = headsCache === undefined ? undefined : await pickFromHeads(driver, db, query, plan, byIp, headsCache, options);
  // An address's detections come from `detections_by_ip`, where a detection whose source and entity
  // addresses both fall in the range is stored twice (same versions): `LIMIT 1 BY` keeps one.
  const picked = fromHeads ?? await driver.query(
    `SELECT org_id, detection_id, version, toUnixTimestamp64Milli(last_seen) AS last_seen_ms
FROM ${db}.${table} FINAL
${whereSql(where)}
ORDER BY ${orderBy}
${byIp ? 'LIMIT 1 BY detection_id\n' : ''}LIMIT {limit:UInt32}
${SMALL_READ}`,
    params,
    options,
  );
  if (picked.length === 0) return { detections: [] };
  // Rows of the picked versions: from the cache where held, the rest read by key.
  const found = new Map<string, DetectionRow>();
  const keyOf = (id: string, version: number) => `${id}\u0000${version}`;
  const missing: Record<string, unknown>[] = [];
  for (const r of picked) {
    const row = cache?.get(String(r['org_id']), String(r['detection_id']), toNumber(r['version']));
    if (row === undefined) missing.push(r);
    else found.set(keyOf(row.detectionId, row.version), row);
  }
  const read =
    missing.length === 0
      ? Promise.resolve([])
      : byIp
        ? readPickedRowsByIp(driver, db, query.orgIds, params, missing, options)
        : readPickedRows(driver, db, query.orgIds, missing, options);
  const [rows, states] = await Promise.all([
    read,
    query.includeState === true ? pageStates(driver, picked.slice(0, limit).map(stateKey), options, stateCache) : Promise.resolve(undefined),
  ]);
  // The picked version of each id (other versions of the same id can share the span); a row stored
  // twice (a back-fill overlapping its view, or under two addresses of a range) is the same row.
  const wanted = new Set(missing.map((r) => keyOf(String(r['detection_id']), toNumber(r['version']))));
  for (const raw of rows) {
    const row = detectionFromClickHouse(raw);
    const key = keyOf(row.detectionId, row.version);
    if (!wanted.has(key) || found.has(key)) continue;
    found.set(key, row);
    cache?.set(row);
  }
  const ordered: DetectionRow[] = [];
  for (const r of picked) {
    const row = found.get(keyOf(String(r['detection_id']), toNumber(r['version'])));
    if (row !== undefined) ordered.push(row);
  }
  const page = pageOf(plan, ordered);
  if (states !== undefined) page.states = states;
  return page;
}

/** The caches of newest heads {@link listDetections} picks from where they decide a page. */
export interface HeadsCaches {
  /** The organizations' list (default window), from `detection_heads_recent`. */
  list?: DetectionHeadsCache | undefined;
  /** One address's list (the entity page), from `detections_by_ip`. */
  address?: DetectionHeadsCache | undefined;
}

/** The parameters of a list plan with no filter but organizations, window, one address and a cursor. */
const HEADS_PICK_PARAMS: ReadonlySet<string> = new Set(['limit', 'orgIds', 'since', 'until', 'ipLo', 'ipHi', 'c0', 'c1']);

/**
 * The pick of `listDetections` from the newest heads in `headsCache` (the address's when `byIp`,
 * else the organizations' recent list), in the rows' shape of the pick statement; undefined when the
 * query is not one it can answer (a range of addresses, another order, a filter) or the held heads
 * cannot decide the page.
 */
async function pickFromHeads(
  driver: StorageDriver,
  db: string,
  query: ListDetectionsQuery,
  plan: ListPlan,
  byIp: boolean,
  headsCache: DetectionHeadsCache,
  options: QueryOptions,
): Promise<Record<string, unknown>[] | undefined> {
  const { params } = plan;
  // Every other filter binds a parameter of its own: any but these means a filter.
  const filtered = Object.keys(params).some((name) => !HEADS_PICK_PARAMS.has(name));
  if (filtered || plan.sort !== 'last_seen' || plan.order !== 'desc' || params['ipLo'] !== params['ipHi']) return undefined;
  const ip = byIp ? String(params['ipLo']) : undefined;
  const read: DetectionHeadsReader = async (ids, max) => {
    const where: string[] = [];
    const bound: Record<string, unknown> = { max: max + 1 };
    orgFilter(query.orgIds, where, bound);
    if (ip !== undefined) {
      where.push('ip = toIPv6({ip:String})');
      bound['ip'] = ip;
    }
    if (ids !== undefined) {
      where.push('detection_id IN {ids:Array(String)}');
      bound['ids'] = [...ids];
    }
    const rows = await driver.query(
      `SELECT org_id, detection_id, version, toUnixTimestamp64Milli(last_seen) AS last_seen_ms
FROM ${db}.${ip !== undefined ? 'detections_by_ip' : 'detection_heads_recent'} FINAL
${whereSql(where)}
${ids === undefined ? 'ORDER BY last_seen DESC\n' : ''}LIMIT {max:UInt32}
${SMALL_READ}`,
      bound,
      options,
    );
    return rows.map((r) => ({ orgId: String(r['org_id']), detectionId: String(r['detection_id']), version: toNumber(r['version']), lastSeen: toNumber(r['last_seen_ms']) }));
  };
  const after = params['c0'] === undefined ? undefined : { lastSeen: Number(params['c0']), detectionId: String(params['c1']) };
  const window = { since: params['since'] as number | undefined, until: params['until'] as number | undefined, after };
  // An address's detections are listed once per id (`LIMIT 1 BY detection_id` in the statement).
  const page = await headsCache.pick(query.orgIds, ip ?? 'recent', read, window, plan.limit + 1, byIp);
  return page?.map((h) => ({ org_id: h.orgId, detection_id: h.detectionId, version: h.version, last_seen_ms: h.lastSeen }));
}

/**
 * Full rows of picked (org, id, version) keys from `detections_by_time`: the key range (org, the
 * picked rows' last_seen span) and their ids. The outer org filter repeats the caller's scope so even
 * this read cannot leave it.
 */
async function readPickedRows(
  driver: StorageDriver,
  db: string,
  scope: readonly string[] | undefined,
  picked: readonly Record<string, unknown>[],
  options: QueryOptions,
): Promise<Record<string, unknown>[]> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of picked) {
    const t = toNumber(r['last_seen_ms']);
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  const params: Record<string, unknown> = {
    orgIds: [...new Set(picked.map((r) => String(r['org_id'])))],
    ids: picked.map((r) => String(r['detection_id'])),
    lo,
    hi,
  };
  if (scope !== undefined) params['scope'] = [...scope];
  return driver.query(
    `SELECT ${DETECTION_SELECT_COLUMNS}
FROM ${db}.detections_by_time
WHERE org_id IN {orgIds:Array(String)}${scope === undefined ? '' : ' AND org_id IN {scope:Array(String)}'}
  AND last_seen >= fromUnixTimestamp64Milli({lo:Int64}) AND last_seen <= fromUnixTimestamp64Milli({hi:Int64})
  AND detection_id IN {ids:Array(String)}
${SMALL_READ}`,
    params,
    options,
  );
}

/**
 * Full rows of picked (org, id, version) keys of an address list from `detections_by_ip`: the key
 * range (org, the list's address range) and their ids and versions (`plan` holds the bound range).
 */
async function readPickedRowsByIp(
  driver: StorageDriver,
  db: string,
  scope: readonly string[] | undefined,
  plan: Readonly<Record<string, unknown>>,
  picked: readonly Record<string, unknown>[],
  options: QueryOptions,
): Promise<Record<string, unknown>[]> {
  const params: Record<string, unknown> = {
    orgIds: [...new Set(picked.map((r) => String(r['org_id'])))],
    ids: picked.map((r) => String(r['detection_id'])),
    versions: [...new Set(picked.map((r) => String(r['version'])))],
    ipLo: plan['ipLo'],
    ipHi: plan['ipHi'],
  };
  if (scope !== undefined) params['scope'] = [...scope];
  return driver.query(
    `SELECT ${DETECTION_SELECT_COLUMNS}
FROM ${db}.detections_by_ip
WHERE org_id IN {orgIds:Array(String)}${scope === undefined ? '' : ' AND org_id IN {scope:Array(String)}'}
  AND ip BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})
  AND detection_id IN {ids:Array(String)} AND version IN {versions:Array(UInt64)}
${SMALL_READ}`,
    params,
    options,
  );
}

/**
 * The same page as {@link listDetections}, read from `detections FINAL` alone (the wide table; how
 * the list was read before migration 0007). Kept as the reference the storage contract compares the
 * list with, and for diagnosing a suspected difference between the tables.
 */
export async function listDetectionsFromDetections(
  driver: StorageDriver,
  query: ListDetectionsQuery = {},
  options: QueryOptions = {},
): Promise<DetectionPage> {
  const db = assertIdentifier('database', driver.database);
  const plan = listPlan(db, query);
  if (plan === undefined) return { detections: [] };
  const { where, params, orderBy } = plan;
  const sql = `SELECT ${DETECTION_SELECT_COLUMNS}
FROM ${db}.detections FINAL
${whereSql(where)}
ORDER BY ${orderBy}
LIMIT {limit:UInt32}`;
  const rows = (await driver.query(sql, params, options)).map(detectionFromClickHouse);
  return finishPage(driver, query, plan, rows, options);
}

/** The first `limit` rows as a page, with the cursor after them when there are more. */
function pageOf(plan: ListPlan, rows: DetectionRow[]): DetectionPage {
  const { limit, sort, order } = plan;
  const page: DetectionPage = { detections: rows.length <= limit ? rows : rows.slice(0, limit) };
  const last = page.detections[page.detections.length - 1];
  if (rows.length > limit && last !== undefined) page.nextCursor = encodeSortCursor(sort, order, last);
  return page;
}

async function finishPage(
  driver: StorageDriver,
  query: ListDetectionsQuery,
  plan: ListPlan,
  rows: DetectionRow[],
  options: QueryOptions,
): Promise<DetectionPage> {
  const page = pageOf(plan, rows);
  if (query.includeState === true && page.detections.length > 0) {
    page.states = await pageStates(driver, page.detections.map((d) => ({ orgId: d.orgId, id: d.detectionId })), options);
  }
  return page;
}

/** The (organization, id) of a picked row. */
function stateKey(r: Readonly<Record<string, unknown>>): { orgId: string; id: string } {
  return { orgId: String(r['org_id']), id: String(r['detection_id']) };
}

/**
 * The current triage state of a page's detections, by id: {@link getDetectionStates} over the rows'
 * own organizations (the page was picked within the caller's scope). With the process's triage state
 * cache, only the states it does not hold are read, and what the read finds (a state, or none) is kept.
 */
async function pageStates(
  driver: StorageDriver,
  rows: readonly { orgId: string; id: string }[],
  options: QueryOptions,
  cache?: TriageStateCache,
): Promise<Record<string, DetectionState>> {
  const out: Record<string, DetectionState> = {};
  const unknown: { orgId: string; id: string }[] = [];
  for (const r of rows) {
    const state = cache?.get(r.orgId, r.id);
    if (state === undefined) unknown.push(r);
    else if (state !== null) out[r.id] = state;
  }
  if (unknown.length === 0) return out;
  const found = new Map<string, DetectionState>();
  for (const state of await getDetectionStates(driver, [...new Set(unknown.map((u) => u.orgId))], unknown.map((u) => u.id), options)) {
    found.set(`${state.orgId}\u0000${state.detectionId}`, state);
  }
  for (const { orgId, id } of unknown) {
    const state = found.get(`${orgId}\u0000${id}`);
    cache?.read(orgId, id, state ?? null);
    if (state !== undefined) out[id] = state;
  }
  return out;
}

/** The latest version of one detection, or undefined (also when it belongs to another tenant). */
export async function getDetection(
  driver: StorageDriver,
  detectionId: string,
  orgIds?: readonly string[],
  options: QueryOptions = {},
): Promise<DetectionRow | undefined> {
  const db = assertIdentifier('database', driver.database);
  const where = ['detection_id = {detectionId:String}'];
  const params: Record<string, unknown> = { detectionId };
  if (!orgFilter(orgIds, where, params)) return undefined;
  const rows = await driver.query(
    `SELECT ${DETECTION_SELECT_COLUMNS}
FROM ${db}.detections FINAL
WHERE ${where.join(' AND ')}
LIMIT 1`,
    params,
    options,
  );
  return rows[0] === undefined ? undefined : detectionFromClickHouse(rows[0]);
}
