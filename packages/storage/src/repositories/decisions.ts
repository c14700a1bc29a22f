import { randomUUID } from 'node:crypto';
import { StorageError } from '../errors.ts';
import { assertIdentifier, toDateTime64, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit, optionalTime } from './filters.ts';
import { OPEN_ENDED } from './indicators.ts';
import { assertOrgAllowed, oneOf, orgScope } from './scope.ts';

export const DECISION_TARGET_TYPES = ['detection', 'indicator'] as const;
export type DecisionTargetType = (typeof DECISION_TARGET_TYPES)[number];
export const DECISION_ACTIONS = ['block', 'monitor', 'share', 'escalate'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];
export const DECISION_STATUSES = ['proposed', 'approved', 'rejected', 'revoked', 'expired'] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];

/** A response decision (latest version of its id). */
export interface Decision {
  id: string;
  orgId: string;
  targetType: DecisionTargetType;
  targetId: string;
  action: DecisionAction;
  justification: string;
  /** Epoch ms; far future ({@link OPEN_ENDED}) when it does not expire. */
  expiresAt: number;
  status: DecisionStatus;
  requestedBy: string;
  /** '' until approved or rejected. */
  approvedBy: string;
  /** Partner ids the decision is shared with (action `share`). */
  shareWith: string[];
  createdAt: number;
  updatedAt: number;
  /** 1 when proposed, +1 per change. */
  version: number;
}

/** What {@link upsertDecision} needs. Without `id` a new decision; with one, a new version of it. */
export type DecisionInput = Pick<Decision, 'orgId' | 'targetType' | 'targetId' | 'action' | 'requestedBy'> &
  Partial<Omit<Decision, 'orgId' | 'targetType' | 'targetId' | 'action' | 'requestedBy' | 'version' | 'updatedAt'>> & {
    /** Optimistic concurrency: the version the caller read; STORAGE_VERSION_CONFLICT when it moved. */
    expectedVersion?: number;
    /** @default now */
    updatedAt?: number;
  };

const COLUMNS = `id, org_id, target_type, target_id, action, justification,
toUnixTimestamp64Milli(expires_at) AS expires_at_ms, status, requested_by, approved_by, share_with,
toUnixTimestamp64Milli(created_at) AS created_at_ms, toUnixTimestamp64Milli(updated_at) AS updated_at_ms, version`;

function fromRow(r: Readonly<Record<string, unknown>>): Decision {
  return {
    id: String(r['id']),
    orgId: String(r['org_id']),
    targetType: String(r['target_type']) as DecisionTargetType,
    targetId: String(r['target_id']),
    action: String(r['action']) as DecisionAction,
    justification: String(r['justification']),
    expiresAt: toNumber(r['expires_at_ms']),
    status: String(r['status']) as DecisionStatus,
    requestedBy: String(r['requested_by']),
    approvedBy: String(r['approved_by']),
    shareWith: Array.isArray(r['share_with']) ? (r['share_with'] as unknown[]).map(String) : [],
    createdAt: toNumber(r['created_at_ms']),
    updatedAt: toNumber(r['updated_at_ms']),
    version: toNumber(r['version']),
  };
}

/**
 * Writes a decision: a new one (version 1) or the next version of an existing one (its version + 1,
 * `createdAt` kept). The previous versions stay in the table until merges collapse them; the API
 * writes each change to the audit log as well.
 */
export async function upsertDecision(driver: StorageDriver, orgIds: readonly string[], input: DecisionInput, options: QueryOptions = {}): Promise<Decision> {
  assertOrgAllowed(orgIds, input.orgId);
  const targetType = oneOf('targetType', input.targetType, DECISION_TARGET_TYPES);
  const action = oneOf('action', input.action, DECISION_ACTIONS);
  const status = oneOf('status', input.status ?? 'proposed', DECISION_STATUSES);
  for (const field of ['targetId', 'requestedBy'] as const) {
    if (typeof input[field] !== 'string' || input[field] === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', `decision.${field} must be a non-empty string`);
  }
  const shareWith = input.shareWith ?? [];
  if (!Array.isArray(shareWith) || !shareWith.every((p) => typeof p === 'string' && p !== '')) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', 'decision.shareWith must be an array of partner ids');
  }
  const current = input.id === undefined ? undefined : await getDecision(driver, [input.orgId], input.id, options);
  const currentVersion = current?.version ?? 0;
  if (input.expectedVersion !== undefined && input.expectedVersion !== currentVersion) {
    throw new StorageError('STORAGE_VERSION_CONFLICT', `decision ${input.id ?? '(new)'} is at version ${currentVersion}, not ${input.expectedVersion}: read it again and retry`);
  }
  const now = Date.now();
  const row: Decision = {
    id: input.id ?? randomUUID(),
    orgId: input.orgId,
    targetType,
    targetId: input.targetId,
    action,
    justification: input.justification ?? '',
    expiresAt: Math.trunc(input.expiresAt ?? OPEN_ENDED),
    status,
    requestedBy: input.requestedBy,
    approvedBy: input.approvedBy ?? '',
    shareWith: [...shareWith],
    createdAt: current?.createdAt ?? Math.trunc(input.createdAt ?? now),
    updatedAt: Math.trunc(input.updatedAt ?? now),
    version: currentVersion + 1,
  };
  await driver.insert('decisions', [
    {
      id: row.id,
      org_id: row.orgId,
      target_type: row.targetType,
      target_id: row.targetId,
      action: row.action,
      justification: row.justification,
      expires_at: toDateTime64(row.expiresAt),
      status: row.status,
      requested_by: row.requestedBy,
      approved_by: row.approvedBy,
      share_with: row.shareWith,
      created_at: toDateTime64(row.createdAt),
      updated_at: toDateTime64(row.updatedAt),
      version: row.version,
    },
  ]);
  return row;
}

/** The latest version of a decision, or undefined (absent or another tenant's). */
export async function getDecision(driver: StorageDriver, orgIds: readonly string[], id: string, options: QueryOptions = {}): Promise<Decision | undefined> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return undefined;
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.decisions FINAL WHERE org_id IN {orgIds:Array(String)} AND id = {id:String} LIMIT 1`,
    { orgIds: orgs, id },
    options,
  );
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/** Filters of {@link listDecisions}; they combine with AND. */
export interface ListDecisionsQuery {
  status?: DecisionStatus | readonly DecisionStatus[];
  action?: DecisionAction;
  targetType?: DecisionTargetType;
  targetId?: string;
  /**
   * Decisions in force at this time (epoch ms): status `approved`, created at or before it and
   * expiring after it.
   */
  activeAt?: number;
  /** Shared with this partner. */
  sharedWith?: string;
  /** @default 100 (max 1000) */
  limit?: number;
}

/** Decisions (latest version of each), newest first. */
export async function listDecisions(
  driver: StorageDriver,
  orgIds: readonly string[],
  query: ListDecisionsQuery = {},
  options: QueryOptions = {},
): Promise<Decision[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const where: string[] = [];
  const params: Record<string, unknown> = { orgIds: orgs, limit: boundedLimit(query.limit) };
  if (query.status !== undefined) {
    const list = (typeof query.status === 'string' ? [query.status] : [...query.status]).map((s) => oneOf('status', s, DECISION_STATUSES));
    where.push('status IN {statuses:Array(String)}');
    params['statuses'] = list;
  }
  if (query.action !== undefined) {
    where.push('action = {action:String}');
    params['action'] = oneOf('action', query.action, DECISION_ACTIONS);
  }
  if (query.targetType !== undefined) {
    where.push('target_type = {targetType:String}');
    params['targetType'] = oneOf('targetType', query.targetType, DECISION_TARGET_TYPES);
  }
  if (query.targetId !== undefined) {
    where.push('target_id = {targetId:String}');
    params['targetId'] = query.targetId;
  }
  if (query.sharedWith !== undefined) {
    where.push('has(share_with, {sharedWith:String})');
    params['sharedWith'] = query.sharedWith;
  }
  const at = optionalTime('activeAt', query.activeAt);
  if (at !== undefined) {
    where.push(`status = 'approved' AND created_at <= fromUnixTimestamp64Milli({at:Int64}) AND expires_at > fromUnixTimestamp64Milli({at:Int64})`);
    params['at'] = at;
  }
  // The filters apply to the latest version, so FINAL runs first (subquery) and they filter after.
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM (SELECT * FROM ${db}.decisions FINAL WHERE org_id IN {orgIds:Array(String)})
${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(fromRow);
}
