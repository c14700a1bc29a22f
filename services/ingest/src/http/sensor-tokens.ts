import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@mamori/core';

/**
 * Per-sensor bearer tokens for HTTP bulk ingest. Only the SHA-256 of each token is configured
 * (`INGEST_SENSOR_TOKENS`), as the query API keeps its API keys. The sensor registry
 * (`@mamori/inventory`) is to take this over: `SensorAuthenticator` is the seam to swap.
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
