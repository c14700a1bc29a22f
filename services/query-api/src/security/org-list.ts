import type { QueryOptions, StorageDriver } from '@mamori/storage';
import { knownOrgs } from '../repositories/investigation.ts';
import type { Principal } from './principal.ts';

const TTL_MS = 30_000;
const cache = new WeakMap<StorageDriver, { at: number; orgs: Promise<string[]> }>();

/**
 * The explicit organization list for repositories that take one: the caller's own, or for `*`
 * every organization with data (cached 30 s per storage driver).
 */
export async function explicitOrgs(principal: Principal, storage: StorageDriver, options: QueryOptions): Promise<readonly string[]> {
  if (principal.orgs !== '*') return principal.orgs;
  const hit = cache.get(storage);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.orgs;
  const orgs = knownOrgs(storage, options);
  cache.set(storage, { at: Date.now(), orgs });
  orgs.catch(() => cache.delete(storage));
  return orgs;
}
