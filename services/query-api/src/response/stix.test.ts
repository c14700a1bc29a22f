import { parseStixBundle } from '@mamori/intel';
import { describe, expect, it } from 'vitest';
import type { Decision } from '@mamori/storage';
import { buildBundle, buildIndicator, organizationIdentity, stixPattern, tlpMarkingDefinition, uuidv5 } from './stix.ts';

const decision = (over: Partial<Decision>): Decision => ({
  id: 'd1', orgId: 'org-a', action: 'block', status: 'active', targetKind: 'indicator', detectionId: '', indicatorType: 'ipv4', indicatorValue: '45.33.32.156',
  justification: 'x', tlp: 'amber', shareWith: [], requestedBy: 'key:a', decidedBy: 'key:b', decisionReason: '', createdAt: Date.UTC(2026, 0, 1),
  updatedAt: Date.UTC(2026, 0, 2), activatedAt: Date.UTC(2026, 0, 2), expiresAt: Date.UTC(2026, 3, 1), version: 1, ...over,
});

describe('uuidv5', () => {
  it('matches the RFC 9562 / Python uuid5 reference value', () => {
    expect(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
});

describe('STIX objects', () => {
  it('writes patterns the intel package reads back to the same values', () => {
    const cases: [Decision['indicatorType'], string, string][] = [
      ['ipv4', '45.33.32.156', 'ip'],
      ['ipv4', '45.95.147.0/24', 'ip'],
      ['ipv6', '2a01:4f8::/32', 'ip'],
      ['domain', 'evil-c2.xyz', 'domain'],
      ['url', "http://evil.example/a'b", 'url'],
      ['md5', 'd41d8cd98f00b204e9800998ecf8427e', 'md5'],
      ['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'sha1'],
      ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256'],
    ];
    const objects = cases.map(([type, value]) => buildIndicator('org-a', [decision({ indicatorType: type, indicatorValue: value })]));
    const parsed = parseStixBundle(JSON.stringify(buildBundle(objects)), { source: 'mamori', now: Date.UTC(2026, 1, 1) });
    expect(parsed.unsupported).toEqual([]);
    expect(parsed.indicators.map((i) => i.kind)).toEqual(expect.arrayContaining(cases.map((c) => c[2])));
    expect(parsed.indicators).toHaveLength(cases.length);
    expect(stixPattern('url', "http://evil.example/a'b")).toBe("[url:value = 'http://evil.example/a\\'b']");
  });

  it('gives the same ids for the same inputs and different ids across organizations', () => {
    const a = buildIndicator('org-a', [decision({})]);
    expect(buildIndicator('org-a', [decision({ id: 'd2', action: 'share' })]).id).toBe(a.id);
    expect(buildIndicator('org-b', [decision({ orgId: 'org-b' })]).id).not.toBe(a.id);
    expect(organizationIdentity('org-a', 'A').id).toBe(a.created_by_ref);
    expect(buildBundle([a, organizationIdentity('org-a', 'A')]).id).toBe(buildBundle([organizationIdentity('org-a', 'A'), a]).id);
  });

  it('uses the OASIS TLP 2.0 marking definitions', () => {
    expect(tlpMarkingDefinition('clear')).toMatchObject({ id: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', name: 'TLP:CLEAR' });
    expect(tlpMarkingDefinition('red').id).toBe('marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1');
    expect(buildIndicator('org-a', [decision({ tlp: 'green' }), decision({ id: 'd2', tlp: 'amber+strict' })]).object_marking_refs).toEqual(['marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003']);
  });
});
