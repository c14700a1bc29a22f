import { authenticate as authenticateKey, type ApiKey } from '../auth.ts';
import { createJwtVerifier, type JwtConfig, type JwtFailure } from './jwt.ts';
import type { Principal } from './principal.ts';

export type AuthFailure = 'missing' | 'invalid_key' | JwtFailure;

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailure; message: string };

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<AuthResult>;
}

// Compact JWS: three base64url parts. API keys are `<id>.<secret>`: two parts, never confused.
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{2,16384}\.[A-Za-z0-9_-]{0,4096}$/;

/**
 * Accepts `Authorization: Bearer <id>.<secret>` (API key, hashed at rest) or `Bearer <JWT>`
 * (verified against the configured JWKS). Without a JWKS configured every JWT is refused.
 */
export function createAuthenticator(apiKeys: readonly ApiKey[], jwt: JwtConfig | undefined): Authenticator {
  const verifier = jwt ? createJwtVerifier(jwt) : undefined;
  return {
    async authenticate(authorization) {
      if (!authorization) return { ok: false, reason: 'missing', message: 'an API key or bearer token is required' };
      const match = /^Bearer (\S{1,24576})$/.exec(authorization.trim());
      const token = match?.[1];
      if (token !== undefined && JWT_SHAPE.test(token)) {
        if (!verifier) return { ok: false, reason: 'invalid_token', message: 'bearer tokens are not accepted by this server (no JWKS configured)' };
        return verifier.verify(token);
      }
      const principal = authenticateKey(apiKeys, authorization);
      return principal ? { ok: true, principal } : { ok: false, reason: 'invalid_key', message: 'a valid API key or bearer token is required' };
    },
  };
}
