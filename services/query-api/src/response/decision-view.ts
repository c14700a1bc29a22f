import { effectiveDecisionStatus, listAudit, type AuditInput, type Decision, type QueryOptions, type StorageDriver } from '@mamori/storage';

/**
 * What the decision routes add on top of `@mamori/storage`'s decision repository (the
 * `decision_versions` table, migration 0005): the API's JSON shape of a decision and its audit trail
 * in the shared append-only `audit_log` (`target_type` `decision`).
 */

/** One audit entry of a decision, as the API returns it. */
export interface DecisionAuditEntry {
  at: number;
  actor: string;
  action: string;
  before: unknown;
  after: unknown;
  reason: string;
}

/** The API's JSON shape of a decision; `status` is `expired` once `expires_at` has passed. */
export function decisionJson(d: Decision, now: number): Record<string, unknown> {
  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
  return {
    id: d.id,
    org_id: d.orgId,
    action: d.action,
    status: effectiveDecisionStatus(d, now),
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
    version: d.version,
  };
}

/** The audit entry of one change of a decision, stamped with the decision version's time. */
export function decisionAuditInput(
  d: Decision,
  entry: { actor: string; action: string; before: Record<string, unknown> | null; after: Record<string, unknown>; reason: string },
): AuditInput {
  return {
    orgId: d.orgId,
    at: d.updatedAt,
    actor: entry.actor,
    action: entry.action,
    targetType: 'decision',
    targetId: d.id,
    beforeJson: entry.before === null ? '' : JSON.stringify(entry.before),
    afterJson: JSON.stringify(entry.after),
    reason: entry.reason,
  };
}

/** A decision's audit trail, oldest first (the newest 1000 entries). */
export async function decisionAuditTrail(driver: StorageDriver, d: Decision, options: QueryOptions = {}): Promise<DecisionAuditEntry[]> {
  const rows = await listAudit(driver, [d.orgId], { targetType: 'decision', targetId: d.id, limit: 1000 }, options);
  const parse = (text: string): unknown => (text === '' ? null : (JSON.parse(text) as unknown));
  return rows.reverse().map((r) => ({ at: r.at, actor: r.actor, action: r.action, before: parse(r.beforeJson), after: parse(r.afterJson), reason: r.reason }));
}
