import {
  DETECTION_SELECT_COLUMNS,
  ENTITY_READ,
  EVENT_SELECT_COLUMNS,
  SEVERITY_RANK,
  assertIdentifier,
  detectionFromClickHouse,
  eventFromClickHouse,
  ipRange,
  toNumber,
  type DetectionRow,
  type EventRow,
  type QueryOptions,
  type Severity,
  type StorageDriver,
} from '@mamori/storage';

/**
 * Queries the analyst API needs that the storage package does not offer (yet): evidence events by
 * id, the organizations for a `*` caller, ingest rates and the
 * detection stream's "newer than" poll. Same rules as the storage repositories: identifiers come
 * from config, every value is bound, every call carries the request's timeout.
 */

const MAX_ORGS = 10_000;

/** Every organization that has events or detections (for a caller whose organizations are `*`). */
export async function knownOrgs(driver: StorageDriver, options: QueryOptions): Promise<string[]> {
  const db = assertIdentifier('database', driver.database);
  const rows = await driver.query(
    `SELECT org_id FROM (SELECT DISTINCT org_id FROM ${db}.entity_hourly UNION DISTINCT SELECT DISTINCT org_id FROM ${db}.detections)
ORDER BY org_id LIMIT {limit:UInt32}`,
    { limit: MAX_ORGS },
    options,
  );
  return rows.map((r) => String(r['org_id']));
}

/**
 * The events a detection names as evidence. The events table is ordered by (org, source, time):
 * the lookup is bounded to the detection's organization and time window (and its source when it
 * has one), never a scan of all events.
 */
export async function eventsByIds(
  driver: StorageDriver,
  orgId: string,
  ids: readonly string[],
  window: { since: number; until: number; srcIp?: string | undefined },
  options: QueryOptions,
): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  const db = assertIdentifier('database', driver.database);
  const params: Record<string, unknown> = { orgId, ids: [...ids], since: Math.trunc(window.since), until: Math.trunc(window.until), limit: ids.length };
  let src = '';
  if (window.srcIp !== undefined) {
    src = ' AND src_ip = toIPv6({srcIp:String})';
    params['srcIp'] = window.srcIp;
  }
  const rows = await driver.query(
    `SELECT ${EVENT_SELECT_COLUMNS} FROM ${db}.events
WHERE org_id = {orgId:String}${src} AND time >= fromUnixTimestamp64Milli({since:Int64}) AND time < fromUnixTimestamp64Milli({until:Int64})
  AND event_id IN {ids:Array(String)}
ORDER BY time, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(eventFromClickHouse);
}

/** First and last hour `ip` was active in the hourly roll-up (its whole retention), or undefined. */
export async function firstLastSeen(
  driver: StorageDriver,
  orgIds: readonly string[],
  ip: string,
  options: QueryOptions,
): Promise<{ first: number; last: number } | undefined> {
  if (orgIds.length === 0) return undefined;
  const db = assertIdentifier('database', driver.database);
  const rows = await driver.query(
    `SELECT count() AS n, toUnixTimestamp(min(hour)) * 1000 AS first_ms, toUnixTimestamp(max(hour)) * 1000 AS last_ms
FROM ${db}.entity_hourly WHERE org_id IN {orgIds:Array(String)} AND ip = toIPv6({ip:String})
${ENTITY_READ}`,
    { orgIds: [...orgIds], ip },
    options,
  );
  const r = rows[0];
  if (r === undefined || toNumber(r['n']) === 0) return undefined;
  return { first: toNumber(r['first_ms']), last: toNumber(r['last_ms']) + 3_600_000 };
}

/**
 * Events per hour of ingestion and sensor, for the hours overlapping [since, until), from the
 * `sensor_ingest_hourly` roll-up (migration 0010): a dashboard never groups raw events.
 */
export async function ingestBySensor(
  driver: StorageDriver,
  orgIds: readonly string[],
  since: number,
  until: number,
  options: QueryOptions,
): Promise<{ sensorId: string; orgId: string; hour: number; events: number }[]> {
  if (orgIds.length === 0) return [];
  const db = assertIdentifier('database', driver.database);
  const clamp = (s: number) => Math.min(Math.max(s, 0), 0xffff_ffff);
  const rows = await driver.query(
    `SELECT org_id, sensor_id, toUnixTimestamp(hour) * 1000 AS hour_ms, sum(events) AS events
FROM ${db}.sensor_ingest_hourly
WHERE org_id IN {orgIds:Array(String)} AND hour >= toDateTime({hourFrom:UInt32}, 'UTC') AND hour < toDateTime({hourTo:UInt32}, 'UTC')
GROUP BY org_id, sensor_id, hour ORDER BY hour_ms, org_id, sensor_id LIMIT 100000`,
    { orgIds: [...orgIds], hourFrom: clamp(Math.floor(since / 3_600_000) * 3_600), hourTo: clamp(Math.ceil(until / 1_000)) },
    options,
  );
  return rows.map((r) => ({ orgId: String(r['org_id']), sensorId: String(r['sensor_id']), hour: toNumber(r['hour_ms']), events: toNumber(r['events']) }));
}

/** Where a detection stream has got to: every version after (detectedAt, detectionId, version). */
export interface StreamCursor {
  detectedAt: number;
  detectionId: string;
  version: number;
}

export interface StreamFilters {
  minSeverity?: Severity | undefined;
  ruleId?: string | undefined;
  /** Exact source address. */
  srcIp?: string | undefined;
  technique?: string | undefined;
  entityIp?: string | undefined;
  text?: string | undefined;
}

/**
 * Detection versions written after `cursor`, oldest first. No FINAL: each new version of a
 * detection is an update the stream reports. Bounded to `limit` rows per poll.
 */
export async function detectionsAfter(
  driver: StorageDriver,
  orgIds: readonly string[] | undefined,
  cursor: StreamCursor,
  filters: StreamFilters,
  limit: number,
  options: QueryOptions,
): Promise<{ row: DetectionRow; cursor: StreamCursor }[]> {
  const db = assertIdentifier('database', driver.database);
  const where = ['(detected_at, detection_id, version) > (fromUnixTimestamp64Milli({cAt:Int64}), {cId:String}, {cVersion:UInt64})'];
  const params: Record<string, unknown> = { cAt: cursor.detectedAt, cId: cursor.detectionId, cVersion: cursor.version, limit };
  if (orgIds !== undefined) {
    if (orgIds.length === 0) return [];
    where.push('org_id IN {orgIds:Array(String)}');
    params['orgIds'] = [...orgIds];
  }
  if (filters.minSeverity !== undefined) {
    where.push('severity_rank >= {minRank:UInt8}');
    params['minRank'] = SEVERITY_RANK[filters.minSeverity];
  }
  if (filters.ruleId !== undefined) {
    where.push('rule_id = {ruleId:String}');
    params['ruleId'] = filters.ruleId;
  }
  if (filters.srcIp !== undefined) {
    where.push('src_ip = toIPv6({srcIp:String})');
    params['srcIp'] = filters.srcIp;
  }
  if (filters.technique !== undefined) {
    where.push("(has(techniques, {technique:String}) OR arrayExists(t -> startsWith(t, concat({technique:String}, '.')), techniques))");
    params['technique'] = filters.technique;
  }
  if (filters.entityIp !== undefined) {
    const range = ipRange('entity_ip', filters.entityIp);
    where.push(
      "((src_ip BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})) OR (entity_type = 'ip' AND ifNull(toIPv6OrNull(entity_value), toIPv6('::')) BETWEEN toIPv6({ipLo:String}) AND toIPv6({ipHi:String})))",
    );
    params['ipLo'] = range.lo;
    params['ipHi'] = range.hi;
  }
  if (filters.text !== undefined) {
    where.push('positionCaseInsensitiveUTF8(title, {text:String}) > 0');
    params['text'] = filters.text;
  }
  const rows = await driver.query(
    `SELECT ${DETECTION_SELECT_COLUMNS} FROM ${db}.detections
WHERE ${where.join(' AND ')}
ORDER BY detected_at, detection_id, version LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map((r) => {
    const row = detectionFromClickHouse(r);
    return { row, cursor: { detectedAt: row.detectedAt, detectionId: row.detectionId, version: row.version } };
  });
}

/** The newest stream position, so a new subscriber starts at "now" without replaying history. */
export async function latestStreamCursor(driver: StorageDriver, orgIds: readonly string[] | undefined, options: QueryOptions): Promise<StreamCursor> {
  const db = assertIdentifier('database', driver.database);
  const params: Record<string, unknown> = {};
  let where = '';
  if (orgIds !== undefined) {
    where = 'WHERE org_id IN {orgIds:Array(String)}';
    params['orgIds'] = [...orgIds];
  }
  const rows = await driver.query(
    `SELECT toUnixTimestamp64Milli(detected_at) AS at_ms, detection_id, version FROM ${db}.detections ${where}
ORDER BY detected_at DESC, detection_id DESC, version DESC LIMIT 1`,
    params,
    options,
  );
  const r = rows[0];
  return r === undefined ? { detectedAt: 0, detectionId: '', version: 0 } : { detectedAt: toNumber(r['at_ms']), detectionId: String(r['detection_id']), version: toNumber(r['version']) };
}
