import { StorageError } from '../errors.ts';

/**
 * Org scoping shared by every repository: `orgIds` is the caller's authorization (the tenants it may
 * see). An empty list matches nothing; a list entry must be a non-empty string.
 */
export function orgScope(orgIds: readonly string[]): string[] | undefined {
  if (!Array.isArray(orgIds)) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'orgIds must be an array of org ids');
  for (const org of orgIds) {
    if (typeof org !== 'string' || org === '') throw new StorageError('STORAGE_INVALID_ARGUMENT', 'orgIds must hold non-empty strings');
  }
  return orgIds.length === 0 ? undefined : [...orgIds];
}

/** Throws unless `orgId` is one of the caller's `orgIds` (writes are refused outside the scope). */
export function assertOrgAllowed(orgIds: readonly string[], orgId: string): void {
  orgScope(orgIds);
  if (!orgIds.includes(orgId)) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `orgId ${JSON.stringify(orgId)} is not one of the caller's orgIds`);
  }
}

/** A required time range, `since` < `until`, no longer than `maxSpanMs`. */
export function boundedRange(since: number, until: number, maxSpanMs: number): { since: number; until: number } {
  if (!Number.isFinite(since) || !Number.isFinite(until)) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'since and until must be epoch milliseconds');
  if (until <= since) throw new StorageError('STORAGE_INVALID_ARGUMENT', 'until must be after since');
  if (until - since > maxSpanMs) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `time range must be at most ${Math.round(maxSpanMs / 86_400_000)} days`);
  }
  return { since: Math.trunc(since), until: Math.trunc(until) };
}

/** Escapes `%`, `_` and `\` for a LIKE pattern and wraps the text in `%...%` (lower-cased). */
export function containsPattern(name: string, text: string, maxLength = 200): string {
  if (typeof text !== 'string' || text.length === 0 || text.length > maxLength) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be 1 to ${maxLength} characters`);
  }
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Checks a value against a closed list. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
