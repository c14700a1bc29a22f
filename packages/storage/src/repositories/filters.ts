import { StorageError } from '../errors.ts';

/** Default page size of listings. */
export const DEFAULT_LIMIT = 100;
/** Largest page a listing returns. */
export const MAX_LIMIT = 1000;

export function boundedLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `limit must be an integer between 1 and ${MAX_LIMIT}, got ${String(limit)}`);
  }
  return limit;
}

export function optionalTime(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value)) throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be epoch milliseconds`);
  return Math.trunc(value);
}
