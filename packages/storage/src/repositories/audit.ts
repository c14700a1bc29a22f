import { randomUUID } from 'node:crypto';
import { StorageError } from '../errors.ts';
import { assertIdentifier, toDateTime64, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';
import { assertOrgAllowed, orgScope } from './scope.ts';

/** One row of the append-only `audit_log`. */
export interface AuditEntry {
  id: string;
  orgId: string;
  /** Who did it (user id or service name). */
  actor: string;
  /** e.g. `detection.status_changed`, `decision.approved`, `indicator.created`. */
  action: string;
  /** e.g. `detection`, `decision`, `indicator`. */
  targetType: string;
  targetId: string;
  /** JSON text of the target before the change ('' when created). */
  beforeJson: string;
  /** JSON text after the change ('' when deleted). */
  afterJson: string;
  reason: string;
  /** Epoch ms. */
  at: number;
  /** Request id of the API call, for correlation with logs. */
  requestId: string;
}

/** What {@link appendAudit} needs; `id` defaults to a random UUID, `at` to now. */
export type AuditInput = Pick<AuditEntry, 'orgId' | 'actor' | 'action' | 'targetType' | 'targetId'> &
  Partial<Omit<AuditEntry, 'orgId' | 'actor' | 'action' | 'targetType' | 'targetId'>>;

const COLUMNS = `id, org_id, actor, action, target_type, target_id, before_json, after_json, reason,
toUnixTimestamp64Milli(at) AS at_ms, request_id`;

function fromRow(r: Readonly<Record<string, unknown>>): AuditEntry {
  return {
    id: String(r['id']),
    orgId: String(r['org_id']),
    actor: String(r['actor']),
    action: String(r['action']),
    targetType: String(r['target_type']),
    targetId: String(r['target_id']),
    beforeJson: String(r['before_json']),
    afterJson: String(r['after_json']),
    reason: String(r['reason']),
    at: toNumber(r['at_ms']),
    requestId: String(r['request_id']),
  };
}

/**
 * Appends an audit entry. With `id` given, a retried call is dropped by ClickHouse
 * (the id is the insert's deduplication token).
 */
export async function appendAudit(driver: StorageDriver, orgIds: readonly string[], input: AuditInput): Promise<AuditEntry> {
  assertOrgAllowed(orgIds, input.orgId);
  for (const field of ['actor', 'action', 'targetType', 'targetId'] as const) {
    if (typeof input[field] !== 'string' || input[field] === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', `audit.${field} must be a non-empty string`);
  }
  const entry: AuditEntry = {
    id: input.id ?? randomUUID(),
    orgId: input.orgId,
    actor: input.actor,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    beforeJson: input.beforeJson ?? '',
    afterJson: input.afterJson ?? '',
    reason: input.reason ?? '',
    at: Math.trunc(input.at ?? Date.now()),
    requestId: input.requestId ?? '',
  };
  await driver.insert(
    'audit_log',
    [
      {
        id: entry.id,
        org_id: entry.orgId,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        before_json: entry.beforeJson,
        after_json: entry.afterJson,
        reason: entry.reason,
        at: toDateTime64(entry.at),
        request_id: entry.requestId,
      },
    ],
    { deduplicationToken: `audit-${entry.id}` },
  );
  return entry;
}

/** Filters of {@link listAudit}. */
export interface ListAuditQuery {
  targetType?: string;
  targetId?: string;
  actor?: string;
  since?: number;
  until?: number;
  /** @default 100 (max 1000) */
  limit?: number;
}

/** Audit entries newest first, for a target (`targetType` + `targetId`) or an org. */
export async function listAudit(
  driver: StorageDriver,
  orgIds: readonly string[],
  query: ListAuditQuery = {},
  options: QueryOptions = {},
): Promise<AuditEntry[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const where = ['org_id IN {orgIds:Array(String)}'];
  const params: Record<string, unknown> = { orgIds: orgs, limit: boundedLimit(query.limit) };
  if (query.targetType !== undefined) {
    where.push('target_type = {targetType:String}');
    params['targetType'] = query.targetType;
  }
  if (query.targetId !== undefined) {
    where.push('target_id = {targetId:String}');
    params['targetId'] = query.targetId;
  }
  if (query.actor !== undefined) {
    where.push('actor = {actor:String}');
    params['actor'] = query.actor;
  }
  const since = optionalTime('since', query.since);
  if (since !== undefined) {
    where.push('at >= fromUnixTimestamp64Milli({since:Int64})');
    params['since'] = since;
  }
  const until = optionalTime('until', query.until);
  if (until !== undefined) {
    where.push('at < fromUnixTimestamp64Milli({until:Int64})');
    params['until'] = until;
  }
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.audit_log WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(fromRow);
}
