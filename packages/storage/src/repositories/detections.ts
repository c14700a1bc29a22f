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
import { assertIdentifier } from '../sql.ts';
import type { InsertOptions, QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';

/** Inserts detections (new ones or new versions of existing ones) in one batch. */
export async function insertDetections(
  driver: StorageDriver,
  rows: readonly DetectionRow[],
  options: InsertOptions = {},
): Promise<void> {
  if (rows.length === 0) return;
  await driver.insert('detections', rows.map(detectionToClickHouse), options);
}

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
  /** Page size. @default 100 (max 1000) */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of detections, newest first. */
export interface DetectionPage {
  detections: DetectionRow[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
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

function orgFilter(orgIds: readonly string[] | undefined, where: string[], params: Record<string, unknown>): boolean {
  if (orgIds === undefined) return true;
  if (orgIds.length === 0) return false;
  where.push('org_id IN {orgIds:Array(String)}');
  params['orgIds'] = [...orgIds];
  return true;
}

/**
 * Detections newest first (by `lastSeen`, then id), latest version of each (FINAL), filtered and
 * paged with a keyset cursor. Every value is bound as a query parameter.
 */
export async function listDetections(
  driver: StorageDriver,
  query: ListDetectionsQuery = {},
  options: QueryOptions = {},
): Promise<DetectionPage> {
  const db = assertIdentifier('database', driver.database);
  const limit = boundedLimit(query.limit);
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: limit + 1 };
  if (!orgFilter(query.orgIds, where, params)) return { detections: [] };
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
  if (query.cursor !== undefined) {
    const cursor = decodeCursor(query.cursor);
    where.push('(last_seen, detection_id) < (fromUnixTimestamp64Milli({cursorTime:Int64}), {cursorId:String})');
    params['cursorTime'] = cursor.lastSeen;
    params['cursorId'] = cursor.detectionId;
  }
  const sql = `SELECT ${DETECTION_SELECT_COLUMNS}
FROM ${db}.detections FINAL
${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY last_seen DESC, detection_id DESC
LIMIT {limit:UInt32}`;
  const rows = (await driver.query(sql, params, options)).map(detectionFromClickHouse);
  if (rows.length <= limit) return { detections: rows };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return last === undefined ? { detections: page } : { detections: page, nextCursor: encodeCursor({ lastSeen: last.lastSeen, detectionId: last.detectionId }) };
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
