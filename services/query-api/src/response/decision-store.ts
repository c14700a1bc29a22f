import { appendAudit as appendStorageAudit, assertIdentifier, listAudit as listStorageAudit, toDateTime64, toNumber, type QueryOptions, type StorageDriver } from '@mamori/storage';
import type { IndicatorType } from './indicator-value.ts';

/**
 * Decisions in ClickHouse, and their audit trail in the shared `audit_log` (@mamori/storage).
 * The storage package's `decisions` table lacks what the outputs need (indicator type and value, TLP,
 * activation time), so decisions live in a table of their own, `api_decisions`, created idempotently
 * on first use; moving it into @mamori/storage as a migration is a follow-up (docs/response.md).
 * It keeps every version of a decision (ReplacingMergeTree by `version`); readers take the latest
 * with FINAL.
 */

export const DECISION_ACTIONS = ['block', 'monitor', 'share', 'escalate'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];
/** Stored status; `expired` is derived on read from `expiresAt`. */
export const DECISION_STATUSES = ['proposed', 'active', 'rejected', 'revoked'] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];
export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type TlpLevel = (typeof TLP_LEVELS)[number];

export interface Decision {
  id: string;
  orgId: string;
  action: DecisionAction;
  status: DecisionStatus;
  /** `detection` when taken on a detection (its entity is the indicator), else `indicator`. */
  targetKind: 'detection' | 'indicator';
  detectionId: string;
  indicatorType: IndicatorType;
  indicatorValue: string;
  justification: string;
  tlp: TlpLevel;
  /** Partner ids (share decisions). */
  shareWith: string[];
  requestedBy: string;
  /** Who approved, rejected or revoked it last. */
  decidedBy: string;
  decisionReason: string;
  createdAt: number;
  updatedAt: number;
  /** When it became effective (approval, or creation without approval); 0 while proposed. */
  activatedAt: number;
  /** 0 = never. */
  expiresAt: number;
  version: number;
}

export interface AuditEntry {
  id: string;
  orgId: string;
  at: number;
  actor: string;
  action: string;
  objectType: string;
  objectId: string;
  before: unknown;
  after: unknown;
  reason: string;
}

const DECISIONS = 'api_decisions';

const ensured = new WeakMap<StorageDriver, Promise<void>>();

/** Creates the tables once per driver (idempotent DDL). */
export function ensureDecisionTables(driver: StorageDriver): Promise<void> {
  let done = ensured.get(driver);
  if (!done) {
    const db = assertIdentifier('database', driver.database);
    done = (async () => {
      await driver.exec(`CREATE TABLE IF NOT EXISTS ${db}.${DECISIONS}
(
    decision_id     String,
    org_id          LowCardinality(String),
    action          LowCardinality(String),
    status          LowCardinality(String),
    target_kind     LowCardinality(String),
    detection_id    String,
    indicator_type  LowCardinality(String),
    indicator_value String,
    justification   String,
    tlp             LowCardinality(String),
    share_with      Array(String),
    requested_by    String,
    decided_by      String,
    decision_reason String,
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    activated_at    DateTime64(3, 'UTC'),
    expires_at      DateTime64(3, 'UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, decision_id)`);
    })();
    done.catch(() => ensured.delete(driver));
    ensured.set(driver, done);
  }
  return done;
}

let lastVersion = 0;
/** Strictly increasing within a process, so a decision's next version always wins FINAL. */
export function nextVersion(at: number): number {
  lastVersion = Math.max(lastVersion + 1, at * 1000);
  return lastVersion;
}

export async function saveDecision(driver: StorageDriver, d: Decision): Promise<void> {
  await ensureDecisionTables(driver);
  await driver.insert(DECISIONS, [
    {
      decision_id: d.id,
      org_id: d.orgId,
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
      version: d.version,
    },
  ]);
}

/** Appends to the shared `audit_log` (needs the storage migrations, which the API runs at start-up). */
export async function appendAudit(driver: StorageDriver, entry: Omit<AuditEntry, 'id'>): Promise<void> {
  await appendStorageAudit(driver, [entry.orgId], {
    orgId: entry.orgId,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    targetType: entry.objectType,
    targetId: entry.objectId,
    beforeJson: entry.before === null || entry.before === undefined ? '' : JSON.stringify(entry.before),
    afterJson: entry.after === null || entry.after === undefined ? '' : JSON.stringify(entry.after),
    reason: entry.reason,
  });
}

const SELECT = `decision_id, org_id, action, status, target_kind, detection_id, indicator_type, indicator_value, justification, tlp,
  share_with, requested_by, decided_by, decision_reason, toUnixTimestamp64Milli(created_at) AS created_ms,
  toUnixTimestamp64Milli(updated_at) AS updated_ms, toUnixTimestamp64Milli(activated_at) AS activated_ms,
  toUnixTimestamp64Milli(expires_at) AS expires_ms, version`;

function fromRow(r: Record<string, unknown>): Decision {
  return {
    id: String(r.decision_id),
    orgId: String(r.org_id),
    action: r.action as DecisionAction,
    status: r.status as DecisionStatus,
    targetKind: r.target_kind === 'detection' ? 'detection' : 'indicator',
    detectionId: String(r.detection_id),
    indicatorType: r.indicator_type as IndicatorType,
    indicatorValue: String(r.indicator_value),
    justification: String(r.justification),
    tlp: r.tlp as TlpLevel,
    shareWith: Array.isArray(r.share_with) ? r.share_with.map(String) : [],
    requestedBy: String(r.requested_by),
    decidedBy: String(r.decided_by),
    decisionReason: String(r.decision_reason),
    createdAt: toNumber(r.created_ms),
    updatedAt: toNumber(r.updated_ms),
    activatedAt: toNumber(r.activated_ms),
    expiresAt: toNumber(r.expires_ms),
    version: toNumber(r.version),
  };
}

/** Filters of {@link listDecisions}; they combine with AND. */
export interface DecisionQuery {
  /** The caller's organizations; undefined = every organization (`*` keys). An empty list matches nothing. */
  orgIds: readonly string[] | undefined;
  ids?: readonly string[];
  actions?: readonly DecisionAction[];
  statuses?: readonly DecisionStatus[];
  indicatorType?: IndicatorType;
  indicatorValue?: string;
  detectionId?: string;
  /** Share decisions naming this partner. */
  sharedWith?: string;
  limit?: number;
}

/** Latest version of each matching decision, newest first. */
export async function listDecisions(driver: StorageDriver, q: DecisionQuery, options: QueryOptions = {}): Promise<Decision[]> {
  if (q.orgIds !== undefined && q.orgIds.length === 0) return [];
  await ensureDecisionTables(driver);
  const db = assertIdentifier('database', driver.database);
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.orgIds !== undefined) {
    where.push('org_id IN {orgs:Array(String)}');
    params.orgs = q.orgIds;
  }
  if (q.ids) {
    where.push('decision_id IN {ids:Array(String)}');
    params.ids = q.ids;
  }
  if (q.actions) {
    where.push('action IN {actions:Array(String)}');
    params.actions = q.actions;
  }
  if (q.statuses) {
    where.push('status IN {statuses:Array(String)}');
    params.statuses = q.statuses;
  }
  if (q.indicatorType) {
    where.push('indicator_type = {itype:String}');
    params.itype = q.indicatorType;
  }
  if (q.indicatorValue) {
    where.push('indicator_value = {ivalue:String}');
    params.ivalue = q.indicatorValue;
  }
  if (q.detectionId) {
    where.push('detection_id = {det:String}');
    params.det = q.detectionId;
  }
  if (q.sharedWith) {
    where.push('has(share_with, {partner:String})');
    params.partner = q.sharedWith;
  }
  const limit = Math.max(1, Math.min(q.limit ?? 10_000, 100_000));
  const sql = `SELECT ${SELECT} FROM ${db}.${DECISIONS} FINAL ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY created_at DESC, decision_id DESC LIMIT ${limit}`;
  const rows = await driver.query<Record<string, unknown>>(sql, params, options);
  return rows.map(fromRow);
}

export async function getDecision(driver: StorageDriver, id: string, orgIds: readonly string[] | undefined, options: QueryOptions = {}): Promise<Decision | undefined> {
  const [d] = await listDecisions(driver, { orgIds, ids: [id], limit: 1 }, options);
  return d;
}

/** A decision's audit trail, oldest first (the newest 1000 entries). */
export async function listAudit(driver: StorageDriver, orgIds: readonly string[], decisionId: string, options: QueryOptions = {}): Promise<AuditEntry[]> {
  const rows = await listStorageAudit(driver, orgIds, { targetType: 'decision', targetId: decisionId, limit: 1000 }, options);
  const parse = (text: string): unknown => (text === '' ? null : (JSON.parse(text) as unknown));
  return rows.reverse().map((r) => ({
    id: r.id,
    orgId: r.orgId,
    at: r.at,
    actor: r.actor,
    action: r.action,
    objectType: r.targetType,
    objectId: r.targetId,
    before: parse(r.beforeJson),
    after: parse(r.afterJson),
    reason: r.reason,
  }));
}

/** The status a reader sees: `expired` once `expiresAt` has passed for an active or proposed decision. */
export function effectiveStatus(d: Decision, now: number): DecisionStatus | 'expired' {
  if ((d.status === 'active' || d.status === 'proposed') && d.expiresAt > 0 && d.expiresAt <= now) return 'expired';
  return d.status;
}

/** The API's JSON shape of a decision. */
export function decisionJson(d: Decision, now: number): Record<string, unknown> {
  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
  return {
    id: d.id,
    org_id: d.orgId,
    action: d.action,
    status: effectiveStatus(d, now),
    target: d.targetKind === 'detection' ? { kind: 'detection', detection_id: d.detectionId } : { kind: 'indicator' },
    indicator: { type: d.indicatorType, value: d.indicatorValue },
    justification: d.justification,
    tlp: d.tlp,
    share_with: d.shareWith,
    requested_by: d.requestedBy,
    decided_by: d.decidedBy || null,
    decision_reason: d.decisionReason || null,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
    activated_at: iso(d.activatedAt),
    expires_at: iso(d.expiresAt),
  };
}
