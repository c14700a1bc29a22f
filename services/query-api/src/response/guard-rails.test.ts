import { parseInventory } from '@mamori/inventory';
import { WarningLists } from '@mamori/intel';
import { describe, expect, it } from 'vitest';
import { checkGuardRails, type GuardRailSources } from './guard-rails.ts';
import { parseIndicatorValue, type IndicatorValue } from './indicator-value.ts';

const inventory = parseInventory(JSON.stringify({ organizations: [{ id: 'org-a' }, { id: 'org-b' }], home_networks: { 'org-a': ['93.184.216.0/24', '2a00:1450:4001::/48'] } }));
const lists = new WarningLists();
lists.add({ name: 'resolvers', type: 'cidr', list: ['8.8.8.8/32', '1.1.1.1/32'], matching_attributes: ['ip-dst'] });
lists.add({ name: 'top sites', type: 'hostname', list: ['google.com'], matching_attributes: ['domain'] });
const sources: GuardRailSources = { inventory: () => inventory, warningLists: lists };

function value(type: string, text: string): IndicatorValue {
  const v = parseIndicatorValue(type, text);
  if (typeof v === 'string') throw new Error(v);
  return v;
}
const rule = (org: string, type: string, text: string) => checkGuardRails(org, value(type, text), sources)?.rule;

describe('guard rails', () => {
  it('refuses home networks of the deciding organization only', () => {
    expect(rule('org-a', 'ipv4', '93.184.216.34')).toBe('home_network');
    expect(rule('org-a', 'ipv4', '93.184.0.0/16')).toBe('home_network');
    expect(rule('org-a', 'ipv6', '2a00:1450:4001:8::1')).toBe('home_network');
    expect(rule('org-b', 'ipv4', '93.184.216.34')).toBeUndefined();
  });

  it('refuses special-purpose ranges by overlap, in both families', () => {
    for (const [t, v] of [['ipv4', '10.0.0.1'], ['ipv4', '172.31.255.255'], ['ipv4', '192.168.0.0/24'], ['ipv4', '100.127.0.1'], ['ipv4', '0.1.2.3'], ['ipv4', '255.255.255.255'], ['ipv6', '::1'], ['ipv6', 'fd00::/8'], ['ipv6', 'ff02::1'], ['ipv6', '::ffff:0:0/104']]) {
      expect(rule('org-b', t!, v!), v).toBe('reserved_range');
    }
    // 9.255.0.0/16 and 11.0.0.0/16 sit beside 10/8 without touching it.
    expect(rule('org-b', 'ipv4', '9.255.0.0/16')).toBeUndefined();
    expect(rule('org-b', 'ipv4', '11.0.0.0/16')).toBeUndefined();
  });

  it('refuses warning-listed values, networks holding them, and names under listed domains', () => {
    expect(rule('org-b', 'ipv4', '8.8.8.8')).toBe('warning_list');
    expect(rule('org-b', 'ipv4', '1.1.0.0/16')).toBe('warning_list');
    expect(rule('org-b', 'domain', 'mail.google.com')).toBe('warning_list');
    expect(rule('org-b', 'url', 'https://google.com/x')).toBe('warning_list');
    expect(rule('org-b', 'domain', 'google.com.evil.xyz')).toBeUndefined();
  });

  it('refuses special-use names and too-broad networks; passes hashes and public hosts', () => {
    expect(rule('org-b', 'domain', 'nas.home.arpa')).toBe('reserved_domain');
    expect(rule('org-b', 'ipv4', '45.0.0.0/15')).toBe('too_broad');
    expect(rule('org-b', 'ipv6', '2a01::/16')).toBe('too_broad');
    expect(rule('org-b', 'sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBeUndefined();
    expect(rule('org-b', 'ipv4', '45.33.32.156')).toBeUndefined();
  });
});
