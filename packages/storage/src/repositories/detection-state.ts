import { StorageError } from '../errors.ts';
import { assertIdentifier, toDateTime64, toNumber } from '../sql.ts';
import type { QueryOptions, StorageDriver } from '../types.ts';
import { boundedLimit } from './filters.ts';
import { assertOrgAllowed, oneOf, orgScope } from './scope.ts';

/** Triage statuses of a detection. A detection with no state row is `new`. */
export const DETECTION_STATUSES = ['new', 'acknowledged', 'in_progress', 'resolved', 'false_positive'] as const;
export type DetectionStatus = (typeof DETECTION_STATUSES)[number];

/** One triage change of a detection (a row of the append-only `detection_state`). */
export interface DetectionState {
  detectionId: string;
  orgId: string;
  status: DetectionStatus;
  /** '' when unassigned. */
  assignee: string;
  note: string;
  changedBy: string;
  /** Epoch ms. */
  changedAt: number;
  /** 1 for the first change of a detection, then +1 per change. */
  version: number;
}

/** What {@link appendDetectionState} needs; `changedAt` defaults to now. */
export interface DetectionStateInput {
  detectionId: string;
  orgId: string;
  status: DetectionStatus;
  assignee?: string;
  note?: string;
  changedBy: string;
  changedAt?: number;
  /**
   * Optimistic concurrency: the version the caller read (0 when it saw no state). When the stored
   * version differs, nothing is written and STORAGE_VERSION_CONFLICT is thrown.
   */
  expectedVersion?: number;
}

const COLUMNS = `detection_id, org_id, status, assignee, note, changed_by,
toUnixTimestamp64Milli(changed_at) AS changed_at_ms, version`;

function fromRow(r: Readonly<Record<string, unknown>>): DetectionState {
  const status = String(r['status']);
  return {
    detectionId: String(r['detection_id']),
    orgId: String(r['org_id']),
    status: (DETECTION_STATUSES as readonly string[]).includes(status) ? (status as DetectionStatus) : 'new',
    assignee: String(r['assignee']),
    note: String(r['note']),
    changedBy: String(r['changed_by']),
    changedAt: toNumber(r['changed_at_ms']),
    version: toNumber(r['version']),
  };
}

/**
 * Appends a triage change and returns it with its version (current + 1). History is never
 * rewritten: `detection_state` keeps every change, `detection_state_current` the latest.
 * Two writers racing on one detection without `expectedVersion` can both get the same version;
 * the later insert then wins (ReplacingMergeTree keeps the last inserted of equal versions).
 * `beforeWrite` runs with the new row once it is validated and versioned, right before the insert:
 * what must be stored before the change is (its audit entry); if it throws, nothing is inserted.
 */
export async function appendDetectionState(
  driver: StorageDriver,
  orgIds: readonly string[],
  input: DetectionStateInput,
  options: QueryOptions = {},
  beforeWrite?: (next: DetectionState) => Promise<void>,
): Promise<DetectionState> {
  assertOrgAllowed(orgIds, input.orgId);
  if (typeof input.detectionId !== 'string' || input.detectionId === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', 'detectionId must be a non-empty string');
  if (typeof input.changedBy !== 'string' || input.changedBy === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', 'changedBy must be a non-empty string');
  const status = oneOf('status', input.status, DETECTION_STATUSES);
  const current = await getDetectionState(driver, [input.orgId], input.detectionId, options);
  const currentVersion = current?.version ?? 0;
  if (input.expectedVersion !== undefined && input.expectedVersion !== currentVersion) {
    throw new StorageError(
      'STORAGE_VERSION_CONFLICT',
      `detection ${input.detectionId} is at version ${currentVersion}, not ${input.expectedVersion}: read it again and retry`,
    );
  }
  const row: DetectionState = {
    detectionId: input.detectionId,
    orgId: input.orgId,
    status,
    assignee: input.assignee ?? current?.assignee ?? '',
    note: input.note ?? '',
    changedBy: input.changedBy,
    changedAt: Math.trunc(input.changedAt ?? Date.now()),
    version: currentVersion + 1,
  };
  if (beforeWrite !== undefined) await beforeWrite(row);
  await driver.insert('detection_state', [
    {
      detection_id: row.detectionId,
      org_id: row.orgId,
      status: row.status,
      assignee: row.assignee,
      note: row.note,
      changed_by: row.changedBy,
      changed_at: toDateTime64(row.changedAt),
      version: row.version,
    },
  ]);
  return row;
}

/** The current triage state of one detection, or undefined (never triaged, or another tenant's). */
export async function getDetectionState(
  driver: StorageDriver,
  orgIds: readonly string[],
  detectionId: string,
  options: QueryOptions = {},
): Promise<DetectionState | undefined> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return undefined;
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.detection_state_current FINAL
WHERE org_id IN {orgIds:Array(String)} AND detection_id = {detectionId:String}
LIMIT 1`,
    { orgIds: orgs, detectionId },
    options,
  );
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/**
 * The current triage state of several detections (at most 10,000 ids), within the caller's
 * organizations; a detection never triaged (`new`) or another tenant's has no entry.
 */
export async function getDetectionStates(
  driver: StorageDriver,
  orgIds: readonly string[],
  detectionIds: readonly string[],
  options: QueryOptions = {},
): Promise<DetectionState[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined || detectionIds.length === 0) return [];
  if (detectionIds.length > 10_000 || detectionIds.some((id) => typeof id !== 'string')) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', 'detectionIds must be at most 10000 strings');
  }
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.detection_state_current FINAL
WHERE org_id IN {orgIds:Array(String)} AND detection_id IN {ids:Array(String)}`,
    { orgIds: orgs, ids: [...new Set(detectionIds)] },
    options,
  );
  return rows.map(fromRow);
}

/** Every triage change of one detection, newest first (its history). */
export async function listDetectionStates(
  driver: StorageDriver,
  orgIds: readonly string[],
  detectionId: string,
  query: { limit?: number } = {},
  options: QueryOptions = {},
): Promise<DetectionState[]> {
  const db = assertIdentifier('database', driver.database);
  const orgs = orgScope(orgIds);
  if (orgs === undefined) return [];
  const rows = await driver.query(
    `SELECT ${COLUMNS} FROM ${db}.detection_state
WHERE org_id IN {orgIds:Array(String)} AND detection_id = {detectionId:String}
ORDER BY version DESC, changed_at DESC
LIMIT {limit:UInt32}`,
    { orgIds: orgs, detectionId, limit: boundedLimit(query.limit) },
    options,
  );
  return rows.map(fromRow);
}
