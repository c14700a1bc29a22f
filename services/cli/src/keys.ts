import { randomBytes } from 'node:crypto';
import { ConfigError } from '@mamori/core';
import { ROLES, hashSecret, parseApiKeys } from '@mamori/query-api';

/** A new API key: the server-side `MAMORI_API_KEYS` entry (hash only) and the client's token. */
export function createApiKey(id: string, role: string, orgs: string): { entry: string; token: string } {
  if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  const secret = randomBytes(24).toString('base64url');
  const entry = `${id}:${hashSecret(secret)}:${role}:${orgs}`;
  parseApiKeys(entry); // the same validation the server applies
  return { entry, token: `${id}.${secret}` };
}
