import { randomUUID } from 'node:crypto';
import { StorageError } from '../errors.ts';
import { assertIdentifier, toDateTime64, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { TLP_LEVELS, type TlpLevel } from './indicators.ts';
import { assertOrgAllowed, oneOf } from './scope.ts';

export const DECISION_ACTIONS = ['block', 'monitor', 'share', 'escalate'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];
/** Stored statuses. `expired` is never stored: {@link effectiveDecisionStatus} derives it from `expiresAt`. */
export const DECISION_STATUSES = ['proposed', 'active', 'rejected', 'revoked'] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];
/** What a decision acts on, after normalization by the API. */
export const DECISION_INDICATOR_TYPES = ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256'] as const;
export type DecisionIndicatorType = (typeof DECISION_INDICATOR_TYPES)[number];
export const DECISION_TARGET_KINDS = ['detection', 'indicator'] as const;
export type DecisionTargetKind = (typeof DECISION_TARGET_KINDS)[number];

/** A response decision as it stands at one version (a row of `decision_versions`, migration 0005). */
export interface Decision {
  id: string;
  orgId: string;
  action: DecisionAction;
  status: DecisionStatus;
  /** `detection` when taken on a detection (its entity is the indicator), else `indicator`. */
  targetKind: DecisionTargetKind;
  /** '' for decisions on an indicator. */
  detectionId: string;
  indicatorType: DecisionIndicatorType;
  indicatorValue: string;
  justification: string;
  tlp: TlpLevel;
  /** Partner ids (share decisions). */
  shareWith: string[];
  requestedBy: string;
  /** Who approved, rejected or revoked it last; '' until then. */
  decidedBy: string;
  decisionReason: string;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number;
  /** When it took effect (approval, or creation when no approval is needed); 0 while proposed. */
  activatedAt: number;
  /** Epoch ms; 0 = never. */
  expiresAt: number;
  /** 1 when made, +1 per change. */
  version: number;
}

/** What {@link createDecision} needs; `id` defaults to a random UUID, times to now. */
export type NewDecision = Omit<Decision, 'id' | 'version' | 'updatedAt' | 'decidedBy' | 'decisionReason' | 'createdAt' | 'activatedAt'> & {
  id?: string;
  createdAt?: number;
  /** @default createdAt when `status` is `active`, else 0 */
  activatedAt?: number;
};

/** A status change of {@link changeDecision}. */
export interface DecisionChange {
  status: DecisionStatus;
  decidedBy: string;
  decisionReason?: string;
  /** @default now (kept strictly after the previous version's `updatedAt`) */
  updatedAt?: number;
  /** @default `updatedAt` when the change makes it `active`, else unchanged */
  activatedAt?: number;
}

const TABLE = 'decision_versions';

const COLUMNS = `decision_id, org_id, version, action, status, target_kind, detection_id, indicator_type, indicator_value,
justification, tlp, share_with, requested_by, decided_by, decision_reason,
toUnixTimestamp64Milli(created_at) AS created_ms, toUnixTimestamp64Milli(updated_at) AS updated_ms,
toUnixTimestamp64Milli(activated_at) AS activated_ms, toUnixTimestamp64Milli(expires_at) AS expires_ms`;

/** Only the latest version of each decision: the newest row of each (org, id); ties (never expected) by write_id. */
const LATEST = 'ORDER BY org_id, decision_id, version DESC, write_id DESC LIMIT 1 BY org_id, decision_id';

function fromRow(r: Readonly<Record<string, unknown>>): Decision {
  return {
    id: String(r['decision_id']),
    orgId: String(r['org_id']),
    action: String(r['action']) as DecisionAction,
    status: String(r['status']) as DecisionStatus,
    targetKind: r['target_kind'] === 'detection' ? 'detection' : 'indicator',
    detectionId: String(r['detection_id']),
    indicatorType: String(r['indicator_type']) as DecisionIndicatorType,
    indicatorValue: String(r['indicator_value']),
    justification: String(r['justification']),
    tlp: String(r['tlp']) as TlpLevel,
    shareWith: Array.isArray(r['share_with']) ? (r['share_with'] as unknown[]).map(String) : [],
    requestedBy: String(r['requested_by']),
    decidedBy: String(r['decided_by']),
    decisionReason: String(r['decision_reason']),
    createdAt: toNumber(r['created_ms']),
    updatedAt: toNumber(r['updated_ms']),
    activatedAt: toNumber(r['activated_ms']),
    expiresAt: toNumber(r['expires_ms']),
    version: toNumber(r['version']),
  };
}

function toRow(d: Decision, writeId: string): Record<string, unknown> {
  return {
    decision_id: d.id,
    org_id: d.orgId,
    version: d.version,
    action: d.action,
    status: d.status,
    target_kind: d.targetKind,
    detection_id: d.detectionId,
    indicator_type: d.indicatorType,
    indicator_value: d.indicatorValue,
    justification: d.justification,
    tlp: d.tlp,
    share_with: d.shareWith,
    requested_by: d.requestedBy,
    decided_by: d.decidedBy,
    decision_reason: d.decisionReason,
    created_at: toDateTime64(d.createdAt),
    updated_at: toDateTime64(d.updatedAt),
    activated_at: toDateTime64(d.activatedAt),
    expires_at: toDateTime64(d.expiresAt),
    write_id: writeId,
  };
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', `decision.${name} must be a non-empty string`);
  return value;
}

function epochMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new StorageError('STORAGE_INVALID_ARGUMENT', `decision.${name} must be epoch milliseconds`);
  return Math.trunc(value);
}

/**
 * Writes `d` as its version and reports whether this write is the one stored for that version.
 * The deduplication token makes the engine keep the first insert of a (org, id, version) and drop
 * any later one; reading back the stored row's `write_id` tells this writer which happened.
 */
async function writeVersion(driver: StorageDriver, d: Decision, options: QueryOptions): Promise<boolean> {
  const writeId = randomUUID();
  await driver.insert(TABLE, [toRow(d, writeId)], { deduplicationToken: `decision/${d.orgId}/${d.id}/${d.version}` });
  const db = assertIdentifier('database', driver.database);
  const rows = await driver.query<{ write_id: string }>(
    `SELECT write_id FROM ${db}.${TABLE}
WHERE org_id = {org:String} AND decision_id = {id:String} AND version = {version:UInt32}
ORDER BY write_id DESC LIMIT 1`,
    { org: d.orgId, id: d.id, version: d.version },
    options,
  );
  return rows[0]?.write_id === writeId;
}

/**
 * Records a new decision (version 1) for one of the caller's organizations and returns it.
 * Validation of the indicator value, guard rails and uniqueness of open decisions are the caller's.
 * `beforeWrite` runs with the decision once it is validated, right before it is written (what must be
 * stored before the change is: its audit entry); if it throws, nothing is written.
 */
export async function createDecision(
  driver: StorageDriver,
  orgIds: readonly string[],
  input: NewDecision,
  options: QueryOptions = {},
  beforeWrite?: (next: Decision) => Promise<void>,
): Promise<Decision> {
  assertOrgAllowed(orgIds, input.orgId);
  const now = Date.now();
  const status = oneOf('status', input.status, DECISION_STATUSES);
  const createdAt = epochMs('createdAt', input.createdAt ?? now);
  const shareWith = input.shareWith ?? [];
  if (!Array.isArray(shareWith) || !shareWith.every((p) => typeof p === 'string' && p !== '')) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', 'decision.shareWith must be an array of partner ids');
  }
  const d: Decision = {
    id: input.id === undefined ? randomUUID() : nonEmpty('id', input.id),
    orgId: input.orgId,
    action: oneOf('action', input.action, DECISION_ACTIONS),
    status,
    targetKind: oneOf('targetKind', input.targetKind, DECISION_TARGET_KINDS),
    detectionId: typeof input.detectionId === 'string' ? input.detectionId : '',
    indicatorType: oneOf('indicatorType', input.indicatorType, DECISION_INDICATOR_TYPES),
    indicatorValue: nonEmpty('indicatorValue', input.indicatorValue),
    justification: typeof input.justification === 'string' ? input.justification : '',
    tlp: oneOf('tlp', input.tlp, TLP_LEVELS),
    shareWith: [...shareWith],
    requestedBy: nonEmpty('requestedBy', input.requestedBy),
    decidedBy: '',
    decisionReason: '',
    createdAt,
    updatedAt: createdAt,
    activatedAt: epochMs('activatedAt', input.activatedAt ?? (status === 'active' ? createdAt : 0)),
    expiresAt: epochMs('expiresAt', input.expiresAt),
    version: 1,
  };
  if (d.targetKind === 'detection' && d.detectionId === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', 'decision.detectionId is required for a decision on a detection');
  if (beforeWrite !== undefined) await beforeWrite(d);
  if (!(await writeVersion(driver, d, options))) {
    throw new StorageError('STORAGE_VERSION_CONFLICT', `decision ${d.id} already exists`);
  }
  return d;
}

/**
 * Moves a decision to its next version with a new status, if and only if it is still at
 * `expectedVersion`: of two racing changes of the same version exactly one is stored; the other
 * (and any change naming a version that is no longer current) gets STORAGE_VERSION_CONFLICT and
 * wrote nothing that readers see. Returns the new version. Which transitions are allowed is the
 * caller's rule; this only guarantees they apply one at a time. `beforeWrite` as for
 * {@link createDecision}, with the next version (it runs before the race for that version is decided).
 */
export async function changeDecision(
  driver: StorageDriver,
  orgIds: readonly string[],
  id: string,
  expectedVersion: number,
  change: DecisionChange,
  options: QueryOptions = {},
  beforeWrite?: (next: Decision) => Promise<void>,
): Promise<Decision> {
  const status = oneOf('status', change.status, DECISION_STATUSES);
  const decidedBy = nonEmpty('decidedBy', change.decidedBy);
  if (!Number.isInteger(expectedVersion) || expectedVersion < 1) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'expectedVersion must be a positive integer');
  const current = await getDecision(driver, orgIds, id, options);
  if (!current) throw new StorageError('STORAGE_INVALID_ARGUMENT', `no decision ${id} in the caller's organizations`);
  if (current.version !== expectedVersion) {
    throw new StorageError('STORAGE_VERSION_CONFLICT', `decision ${id} is at version ${current.version}, not ${expectedVersion}: read it again and retry`);
  }
  const updatedAt = Math.max(epochMs('updatedAt', change.updatedAt ?? Date.now()), current.updatedAt + 1);
  const next: Decision = {
    ...current,
    status,
    decidedBy,
    decisionReason: change.decisionReason ?? '',
    updatedAt,
    activatedAt: change.activatedAt !== undefined ? epochMs('activatedAt', change.activatedAt) : status === 'active' && current.status !== 'active' ? updatedAt : current.activatedAt,
    version: current.version + 1,
  };
  if (beforeWrite !== undefined) await beforeWrite(next);
  if (!(await writeVersion(driver, next, options))) {
    throw new StorageError('STORAGE_VERSION_CONFLICT', `decision ${id} was changed by someone else at the same time (version ${next.version} is taken): read it again and retry`);
  }
  return next;
}

/**
 * The latest version of a decision, or undefined (absent, or outside `orgIds`).
 * `orgIds` undefined reads every organization (callers authorized for all of them).
 */
export async function getDecision(driver: StorageDriver, orgIds: readonly string[] | undefined, id: string, options: QueryOptions = {}): Promise<Decision | undefined> {
  const [d] = await listDecisions(driver, orgIds, { ids: [id], limit: 1 }, options);
  return d;
}

/** Every version of a decision, oldest first: its history as stored. */
export async function decisionHistory(driver: StorageDriver, orgIds: readonly string[] | undefined, id: string, options: QueryOptions = {}): Promise<Decision[]> {
  if (orgIds !== undefined && orgIds.length === 0) return [];
  const db = assertIdentifier('database', driver.database);
  const params: Record<string, unknown> = { id };
  let where = 'decision_id = {id:String}';
  if (orgIds !== undefined) {
    where += ' AND org_id IN {orgIds:Array(String)}';
    params['orgIds'] = [...orgIds];
  }
  const rows = await driver.query(`SELECT ${COLUMNS} FROM ${db}.${TABLE} WHERE ${where} ORDER BY version, write_id DESC LIMIT 1 BY version`, params, options);
  return rows.map(fromRow);
}

/** Filters of {@link listDecisions}; they combine with AND and apply to each decision's latest version. */
export interface ListDecisionsQuery {
  ids?: readonly string[];
  actions?: readonly DecisionAction[];
  statuses?: readonly DecisionStatus[];
  indicatorType?: DecisionIndicatorType;
  /** Any of these indicator types. */
  indicatorTypes?: readonly DecisionIndicatorType[];
  indicatorValue?: string;
  detectionId?: string;
  /** Share decisions naming this partner. */
  sharedWith?: string;
  /**
   * In force at this time (epoch ms): `active`, activated at or before it and not expired
   * (`expiresAt` 0 or after it).
   */
  activeAt?: number;
  /** @default 10000 (max 100000) */
  limit?: number;
}

/**
 * The latest version of each matching decision, newest first. `orgIds` undefined reads every
 * organization; an empty list matches nothing. Filters on what a decision never changes (action,
 * indicator, detection, partners) narrow the scan before the latest version is picked; status and
 * time filters apply to the latest version.
 */
export async function listDecisions(driver: StorageDriver, orgIds: readonly string[] | undefined, query: ListDecisionsQuery = {}, options: QueryOptions = {}): Promise<Decision[]> {
  if (orgIds !== undefined && orgIds.length === 0) return [];
  const db = assertIdentifier('database', driver.database);
  const inner: string[] = [];
  const outer: string[] = [];
  const params: Record<string, unknown> = {};
  if (orgIds !== undefined) {
    inner.push('org_id IN {orgIds:Array(String)}');
    params['orgIds'] = [...orgIds];
  }
  if (query.ids !== undefined) {
    inner.push('decision_id IN {ids:Array(String)}');
    params['ids'] = [...query.ids];
  }
  if (query.actions !== undefined) {
    inner.push('action IN {actions:Array(String)}');
    params['actions'] = query.actions.map((a) => oneOf('action', a, DECISION_ACTIONS));
  }
  if (query.indicatorType !== undefined) {
    inner.push('indicator_type = {indicatorType:String}');
    params['indicatorType'] = oneOf('indicatorType', query.indicatorType, DECISION_INDICATOR_TYPES);
  }
  if (query.indicatorTypes !== undefined) {
    inner.push('indicator_type IN {indicatorTypes:Array(String)}');
    params['indicatorTypes'] = query.indicatorTypes.map((t) => oneOf('indicatorType', t, DECISION_INDICATOR_TYPES));
  }
  if (query.indicatorValue !== undefined) {
    inner.push('indicator_value = {indicatorValue:String}');
    params['indicatorValue'] = String(query.indicatorValue);
  }
  if (query.detectionId !== undefined) {
    inner.push('detection_id = {detectionId:String}');
    params['detectionId'] = String(query.detectionId);
  }
  if (query.sharedWith !== undefined) {
    inner.push('has(share_with, {sharedWith:String})');
    params['sharedWith'] = String(query.sharedWith);
  }
  if (query.statuses !== undefined) {
    outer.push('status IN {statuses:Array(String)}');
    params['statuses'] = query.statuses.map((s) => oneOf('status', s, DECISION_STATUSES));
  }
  if (query.activeAt !== undefined) {
    if (!Number.isFinite(query.activeAt)) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'activeAt must be epoch milliseconds');
    outer.push(`status = 'active' AND activated_at <= fromUnixTimestamp64Milli({at:Int64}, 'UTC')
  AND (toUnixTimestamp64Milli(expires_at) = 0 OR expires_at > fromUnixTimestamp64Milli({at:Int64}, 'UTC'))`);
    params['at'] = Math.trunc(query.activeAt);
  }
  const limit = query.limit ?? 10_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'limit must be an integer between 1 and 100000');
  params['limit'] = limit;
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM
(
    SELECT * FROM ${db}.${TABLE}
    ${inner.length > 0 ? `WHERE ${inner.join(' AND ')}` : ''}
    ${LATEST}
)
${outer.length > 0 ? `WHERE ${outer.join(' AND ')}` : ''}
ORDER BY created_at DESC, decision_id DESC LIMIT {limit:UInt32}`,
    params,
    options,
  );
  return rows.map(fromRow);
}

/** The status a reader sees: `expired` once `expiresAt` has passed for an active or proposed decision. */
export function effectiveDecisionStatus(d: Pick<Decision, 'status' | 'expiresAt'>, now: number): DecisionStatus | 'expired' {
  if ((d.status === 'active' || d.status === 'proposed') && d.expiresAt > 0 && d.expiresAt <= now) return 'expired';
  return d.status;
}
