import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTaxiiPartners } from './response-config.ts';
import { acceptsTaxii, authenticatePartner, decodeNext, encodeNext } from './taxii.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('TAXII helpers', () => {
  it('accepts the TAXII 2.1 media type, wildcards and no Accept; refuses others', () => {
    for (const ok of [undefined, '', '*/*', 'application/*', 'application/taxii+json', 'application/taxii+json;version=2.1', 'text/html, application/taxii+json; version=2.1']) expect(acceptsTaxii(ok), String(ok)).toBe(true);
    for (const bad of ['application/json', 'application/taxii+json;version=2.0', 'application/stix+json;version=2.1']) expect(acceptsTaxii(bad), bad).toBe(false);
  });

  it('authenticates partners by Basic or Bearer, never with a wrong secret', () => {
    const partners = parseTaxiiPartners(`cert-x:${sha('secret-of-x-0123456789')}:org-a;cert-y:${sha('secret-of-y-0123456789')}:org-a`);
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    expect(authenticatePartner(partners, basic('cert-x', 'secret-of-x-0123456789'))?.id).toBe('cert-x');
    expect(authenticatePartner(partners, 'Bearer cert-y.secret-of-y-0123456789')?.id).toBe('cert-y');
    expect(authenticatePartner(partners, basic('cert-x', 'secret-of-y-0123456789'))).toBeUndefined();
    expect(authenticatePartner(partners, basic('cert-z', 'secret-of-x-0123456789'))).toBeUndefined();
    expect(authenticatePartner(partners, undefined)).toBeUndefined();
  });

  it('round-trips next tokens and refuses garbage', () => {
    expect(decodeNext(encodeNext(1234, 'indicator--x'))).toEqual({ dateAdded: 1234, id: 'indicator--x' });
    expect(decodeNext('garbage')).toBeUndefined();
  });

  it('reports a bad API_TAXII_PARTNERS entry by name', () => {
    expect(() => parseTaxiiPartners('cert-x:nothex:org-a')).toThrow(/cert-x.*64 hex/);
    expect(() => parseTaxiiPartners(`cert-x:${sha('a')}`)).toThrow(/<partner id>:<sha256/);
  });
});
