import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@mamori/core';
import type { Principal } from './security/principal.ts';

export const ROLES = ['viewer', 'analyst', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A configured API key. Only the SHA-256 of the secret is kept. */
export interface ApiKey {
  id: string;
  /** Hex SHA-256 of the secret. */
  secretSha256: string;
  role: Role;
  /** Organizations the key may read; `'*'` is every organization (coordinating team). */
  orgs: readonly string[] | '*';
}


const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const ORG_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Parses `MAMORI_API_KEYS`: entries separated by `;` or newlines, each
 * `<id>:<sha256 hex of the secret>:<role>:<org>[,<org>...]` with `*` for all organizations.
 * Clients send `Authorization: Bearer <id>.<secret>`. `mamori keys create` prints both halves.
 */
export function parseApiKeys(spec: string): ApiKey[] {
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  for (const raw of spec.split(/[;\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [id, hash, role, orgs, ...rest] = entry.split(':');
    const where = `MAMORI_API_KEYS entry for key ${JSON.stringify(id ?? '')}`;
    if (!id || !hash || !role || !orgs || rest.length > 0) {
      throw new ConfigError(`${where} must be <id>:<sha256 hex>:<role>:<orgs> (create one with: mamori keys create)`);
    }
    if (!ID_PATTERN.test(id)) throw new ConfigError(`${where}: the id may hold only letters, digits and '-' (at most 64)`);
    if (!/^[0-9a-f]{64}$/i.test(hash)) throw new ConfigError(`${where}: the hash must be 64 hex digits (SHA-256 of the secret)`);
    if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`${where}: role must be one of ${ROLES.join(', ')}`);
    if (seen.has(id)) throw new ConfigError(`${where}: the id is used twice`);
    const orgList = orgs === '*' ? '*' : orgs.split(',').map((o) => o.trim());
    if (orgList !== '*' && orgList.some((o) => !ORG_PATTERN.test(o))) throw new ConfigError(`${where}: organizations must be '*' or a comma list of ids`);
    seen.add(id);
    keys.push({ id, secretSha256: hash.toLowerCase(), role: role as Role, orgs: orgList });
  }
  return keys;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Looks an API key (`Bearer <id>.<secret>`) up in constant time per key; undefined when it is missing or wrong. */
export function authenticate(keys: readonly ApiKey[], authorization: string | undefined): Principal | undefined {
  if (!authorization || authorization.length > 512) return undefined;
  const match = /^Bearer ([A-Za-z0-9-]{1,64})\.([A-Za-z0-9_-]{16,256})$/.exec(authorization.trim());
  if (!match) return undefined;
  const [, id, secret] = match;
  const key = keys.find((k) => k.id === id);
  const presented = createHash('sha256').update(secret!, 'utf8').digest();
  // Compare even when the id is unknown so timing does not reveal which ids exist.
  const expected = key ? Buffer.from(key.secretSha256, 'hex') : Buffer.alloc(32);
  const ok = timingSafeEqual(presented, expected) && key !== undefined;
  return ok ? { id: `key:${key.id}`, kind: 'api_key', role: key.role, orgs: key.orgs } : undefined;
}
