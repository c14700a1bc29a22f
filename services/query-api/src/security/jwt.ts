import { readFileSync } from 'node:fs';
import { ConfigError } from '@mamori/core';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { highestRole, type Principal } from './principal.ts';

/** JWT settings of {@link QueryApiConfig}; present only when a JWKS is configured. */
export interface JwtConfig {
  /** API_JWT_JWKS_URL: an https (or http on loopback) JWKS endpoint. */
  jwksUrl?: string;
  /** API_JWT_JWKS_FILE: a local JWKS JSON file (read once at boot). */
  jwksFile?: string;
  /** API_JWT_ISSUER: required `iss`. */
  issuer: string;
  /** API_JWT_AUDIENCE: required `aud`. */
  audience: string;
  /** API_JWT_ROLES_CLAIM. @default 'mamori_roles' */
  rolesClaim: string;
  /** API_JWT_ORGS_CLAIM. @default 'mamori_orgs' */
  orgsClaim: string;
  /** API_JWT_CLOCK_TOLERANCE_S: accepted clock skew for exp/nbf. @default 30 */
  clockToleranceS: number;
}

/**
 * Asymmetric algorithms only: an HMAC algorithm would let anyone holding the public JWKS forge
 * tokens (key confusion), and `none` is never accepted by jose's jwtVerify.
 */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const ORG_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Why a token was refused (a bounded label value and the 401 message). */
export type JwtFailure = 'invalid_token' | 'expired' | 'claims' | 'no_role' | 'jwks_unavailable';

export type JwtResult = { ok: true; principal: Principal } | { ok: false; reason: JwtFailure; message: string };

/** Verifies bearer JWTs against a JWKS and maps their claims to a {@link Principal}. */
export interface JwtVerifier {
  verify(token: string): Promise<JwtResult>;
}

/** Reads and checks the JWKS file at boot, so a broken file stops the start with a message naming the key. */
export function loadJwksFile(path: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`API_JWT_JWKS_FILE=${JSON.stringify(path)} is not a readable JSON file (${(error as Error).message}); point it at a JWKS document`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new ConfigError(`API_JWT_JWKS_FILE=${JSON.stringify(path)} must hold a JWKS document: {"keys": [...]}`);
  }
  return parsed as JSONWebKeySet;
}

export function createJwtVerifier(config: JwtConfig): JwtVerifier {
  let keys: JWTVerifyGetKey;
  if (config.jwksFile !== undefined) keys = createLocalJWKSet(loadJwksFile(config.jwksFile));
  else if (config.jwksUrl !== undefined) keys = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  else throw new ConfigError('set API_JWT_JWKS_URL or API_JWT_JWKS_FILE to accept JWTs');

  return {
    async verify(token: string): Promise<JwtResult> {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: ALGORITHMS,
          clockTolerance: config.clockToleranceS,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', message: 'the token has expired' };
        if (error instanceof joseErrors.JWTClaimValidationFailed) return { ok: false, reason: 'claims', message: `the token's ${error.claim} claim is not accepted` };
        if (error instanceof joseErrors.JWKSTimeout || (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID')) {
          return { ok: false, reason: 'jwks_unavailable', message: 'the signing keys are unavailable; try again' };
        }
        return { ok: false, reason: 'invalid_token', message: 'the token is not valid' };
      }
      const sub = payload['sub'];
      if (typeof sub !== 'string' || sub === '' || sub.length > 256) return { ok: false, reason: 'claims', message: "the token's sub claim is not accepted" };
      const rolesClaim = payload[config.rolesClaim];
      const role = highestRole(Array.isArray(rolesClaim) ? rolesClaim : [rolesClaim]);
      if (role === undefined) return { ok: false, reason: 'no_role', message: `the token carries no known role in ${config.rolesClaim}` };
      const orgsClaim = payload[config.orgsClaim];
      let orgs: readonly string[] | '*';
      if (orgsClaim === '*' || (Array.isArray(orgsClaim) && orgsClaim.length === 1 && orgsClaim[0] === '*')) orgs = '*';
      else if (Array.isArray(orgsClaim) && orgsClaim.length <= 1000 && orgsClaim.every((o) => typeof o === 'string' && ORG_PATTERN.test(o))) orgs = orgsClaim as string[];
      else if (typeof orgsClaim === 'string' && ORG_PATTERN.test(orgsClaim)) orgs = [orgsClaim];
      else return { ok: false, reason: 'claims', message: `the token's ${config.orgsClaim} claim must be '*' or a list of organization ids` };
      return { ok: true, principal: { id: `jwt:${sub}`, kind: 'jwt', role, orgs } };
    },
  };
}
