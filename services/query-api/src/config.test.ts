import { ConfigError } from '@mamori/core';
import { describe, expect, it } from 'vitest';
import { loadQueryApiConfig } from './config.ts';

describe('loadQueryApiConfig', () => {
  it('has no JWT verification and a 600/minute rate limit by default', () => {
    const config = loadQueryApiConfig({});
    expect(config.jwt).toBeUndefined();
    expect(config.rateLimitPerMinute).toBe(600);
    expect(config.maxSseSubscribers).toBe(100);
  });

  it('reads the JWT keys, with the default claim names', () => {
    const config = loadQueryApiConfig({ API_JWT_JWKS_URL: 'https://idp.example.org/.well-known/jwks.json', API_JWT_ISSUER: 'https://idp.example.org', API_JWT_AUDIENCE: 'mamori' });
    expect(config.jwt).toEqual({
      jwksUrl: 'https://idp.example.org/.well-known/jwks.json',
      issuer: 'https://idp.example.org',
      audience: 'mamori',
      rolesClaim: 'mamori_roles',
      orgsClaim: 'mamori_orgs',
      clockToleranceS: 30,
    });
  });

  it.each([
    [{ API_JWT_JWKS_URL: 'https://idp.example.org/jwks' }, ['API_JWT_ISSUER', 'API_JWT_AUDIENCE']],
    [{ API_JWT_JWKS_URL: 'http://idp.example.org/jwks', API_JWT_ISSUER: 'i', API_JWT_AUDIENCE: 'a' }, ['API_JWT_JWKS_URL', 'https']],
    [{ API_JWT_JWKS_URL: 'not a url', API_JWT_ISSUER: 'i', API_JWT_AUDIENCE: 'a' }, ['API_JWT_JWKS_URL']],
    [{ API_JWT_JWKS_URL: 'https://a/jwks', API_JWT_JWKS_FILE: '/tmp/jwks.json', API_JWT_ISSUER: 'i', API_JWT_AUDIENCE: 'a' }, ['API_JWT_JWKS_FILE']],
    [{ API_RATE_LIMIT_PER_MINUTE: '-5' }, ['API_RATE_LIMIT_PER_MINUTE']],
    [{ API_MAX_PAGE_SIZE: '5000' }, ['API_MAX_PAGE_SIZE']],
  ])('refuses %o naming %o', (env, words) => {
    let error: unknown;
    try {
      loadQueryApiConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const word of words) expect((error as Error).message).toContain(word);
  });

  it('accepts http for a loopback JWKS URL', () => {
    expect(loadQueryApiConfig({ API_JWT_JWKS_URL: 'http://127.0.0.1:9000/jwks', API_JWT_ISSUER: 'i', API_JWT_AUDIENCE: 'a' }).jwt?.jwksUrl).toBe('http://127.0.0.1:9000/jwks');
  });
});
