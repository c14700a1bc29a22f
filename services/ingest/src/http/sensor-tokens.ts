import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@mamori/core';

/**
 * Per-sensor tokens for HTTP bulk ingest. Only the SHA-256 of each token is configured: in the
 * sensor registry (`@mamori/inventory`, `ingest_token_sha256`, checked by {@link inventoryAuthenticator})
 * and/or in `INGEST_SENSOR_TOKENS` ({@link tokenAuthenticator}), as the query API keeps its API keys.
 */
export interface SensorToken {
  sensorId: string;
  /** Lower-case hex SHA-256 of the token. */
  tokenSha256: string;
}

/** Who sent a request: a sensor, or why not (401: no usable credentials, 403: unknown token). */
export type SensorAuthResult = { ok: true; sensorId: string } | { ok: false; status: 401 | 403 };

/** Maps an `Authorization` header to a sensor. */
export type SensorAuthenticator = (authorization: string | undefined) => SensorAuthResult;

const SENSOR_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Parses `<sensor id>:<sha256 hex>` entries separated by `;` (or newlines). Throws ConfigError. */
export function parseSensorTokens(spec: string): SensorToken[] {
  const tokens: SensorToken[] = [];
  for (const raw of spec.split(/[;\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const at = entry.lastIndexOf(':');
    const sensorId = entry.slice(0, at);
    const hash = entry.slice(at + 1);
    if (at <= 0 || !SENSOR_ID.test(sensorId)) {
      throw new ConfigError(`INGEST_SENSOR_TOKENS entry ${JSON.stringify(entry.slice(0, 40))} must be <sensor id>:<sha256 hex of the token>, the id of letters, digits, '.', '_', ':', '-'`);
    }
    if (!/^[0-9a-f]{64}$/i.test(hash)) throw new ConfigError(`INGEST_SENSOR_TOKENS entry for sensor ${sensorId}: the hash must be 64 hex digits (sha256 of the token)`);
    if (tokens.some((t) => t.tokenSha256 === hash.toLowerCase())) throw new ConfigError(`INGEST_SENSOR_TOKENS entry for sensor ${sensorId}: the token is used by another sensor`);
    tokens.push({ sensorId, tokenSha256: hash.toLowerCase() });
  }
  return tokens;
}

export function hashSensorToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Checks `Authorization: Bearer <token>` against every configured hash in constant time per entry
 * (no early exit), so timing does not tell how close a guess was or which sensors exist.
 */
export function tokenAuthenticator(tokens: readonly SensorToken[]): SensorAuthenticator {
  const hashes = tokens.map((t) => ({ sensorId: t.sensorId, digest: Buffer.from(t.tokenSha256, 'hex') }));
  return (authorization) => {
    if (authorization === undefined || authorization.length > 1024) return { ok: false, status: 401 };
    const match = /^Bearer ([\x21-\x7e]{16,512})$/.exec(authorization.trim());
    if (!match) return { ok: false, status: 401 };
    const presented = createHash('sha256').update(match[1]!, 'utf8').digest();
    let sensorId: string | undefined;
    for (const h of hashes) if (timingSafeEqual(presented, h.digest) && sensorId === undefined) sensorId = h.sensorId;
    return sensorId === undefined ? { ok: false, status: 403 } : { ok: true, sensorId };
  };
}

/** The part of the sensor registry a token check needs (`Inventory` from `@mamori/inventory`). */
export interface IngestTokenVerifier {
  verifyIngestToken(sensorId: string, token: string): boolean;
}

const INVENTORY_SENSOR_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** `<sensor id>:<token>` from `Basic base64(id:token)` or `Bearer id:token`; undefined when malformed. */
function sensorCredentials(authorization: string): { sensorId: string; token: string } | undefined {
  const basic = /^Basic ([A-Za-z0-9+/]{1,1024}={0,2})$/i.exec(authorization);
  const bearer = /^Bearer ([\x21-\x7e]{1,700})$/.exec(authorization);
  const pair = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : bearer?.[1];
  if (pair === undefined) return undefined;
  // Inventory sensor ids hold no ':', so the first one separates id and token (which may hold ':').
  const colon = pair.indexOf(':');
  const sensorId = pair.slice(0, colon);
  const token = pair.slice(colon + 1);
  if (colon <= 0 || !INVENTORY_SENSOR_ID.test(sensorId) || !/^[\x21-\x7e]{16,512}$/.test(token)) return undefined;
  return { sensorId, token };
}

/**
 * Checks credentials against the sensor registry: `Authorization: Basic base64(<sensor id>:<token>)`
 * (user = sensor id, password = token, as shippers' HTTP outputs send) or `Authorization: Bearer
 * <sensor id>:<token>`. `current` is read on every request, so an inventory reload (a new sensor, a
 * rotated token) applies to the next request. The digest compare is constant-time
 * (`Inventory#verifyIngestToken`).
 */
export function inventoryAuthenticator(current: () => IngestTokenVerifier | undefined): SensorAuthenticator {
  return (authorization) => {
    if (authorization === undefined || authorization.length > 1024) return { ok: false, status: 401 };
    const credentials = sensorCredentials(authorization.trim());
    if (!credentials) return { ok: false, status: 401 };
    const inventory = current();
    if (inventory?.verifyIngestToken(credentials.sensorId, credentials.token)) return { ok: true, sensorId: credentials.sensorId };
    return { ok: false, status: 403 };
  };
}

/**
 * The first authenticator that accepts the request wins. Otherwise 403 when any of them recognised
 * the credentials' shape but not the secret, else 401.
 */
export function anyAuthenticator(authenticators: readonly SensorAuthenticator[]): SensorAuthenticator {
  return (authorization) => {
    let status: 401 | 403 = 401;
    for (const authenticate of authenticators) {
      const result = authenticate(authorization);
      if (result.ok) return result;
      if (result.status === 403) status = 403;
    }
    return { ok: false, status };
  };
}
