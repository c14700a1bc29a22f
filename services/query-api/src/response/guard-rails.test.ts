import { parseInventory } from '@mamori/inventory';
import { describe, expect, it } from 'vitest';
import { checkGuardRails, warningListSources, type GuardRailSources } from './guard-rails.ts';
import { parseIndicatorValue, type IndicatorValue } from './indicator-value.ts';

const inventory = parseInventory(JSON.stringify({ organizations: [{ id: 'org-a' }, { id: 'org-b' }], home_networks: { 'org-a': ['93.184.216.0/24', '2a00:1450:4001::/48'] } }));
const sources: GuardRailSources = {
  inventory: () => inventory,
  ...warningListSources([
    { name: 'resolvers', type: 'cidr', list: ['8.8.8.8/32', '1.1.1.1/32', '2001:4860:4860::8888'], matching_attributes: ['ip-dst'] },
    { name: 'cloud', type: 'cidr', list: ['2600:1f00::/24', '52.95.110.0/24'] },
    { name: 'hashes only', type: 'cidr', list: ['45.33.40.0/24'], matching_attributes: ['md5'] },
    { name: 'top sites', type: 'hostname', list: ['google.com'], matching_attributes: ['domain'] },
  ]),
};

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

  it('refuses an IPv6 network that holds a home network strictly inside it, and one inside a home network', () => {
    // 2a00:1450::/32 holds the home 2a00:1450:4001::/48 in its middle: neither end is home.
    expect(rule('org-a', 'ipv6', '2a00:1450::/32')).toBe('home_network');
    expect(rule('org-a', 'ipv6', '2a00:1450:4000::/46')).toBe('home_network');
    expect(rule('org-a', 'ipv6', '2a00:1450:4001:8::/64')).toBe('home_network');
    expect(rule('org-a', 'ipv6', '2a00:1450:4002::/48')).toBeUndefined();
    const refusal = checkGuardRails('org-a', value('ipv6', '2a00:1450::/32'), sources);
    expect(refusal?.matched).toBe('2a00:1450:4001::/48');
  });

  it('reads IPv4-mapped IPv6 as the IPv4 network it carries', () => {
    expect(rule('org-a', 'ipv6', '::ffff:5db8:d800/120')).toBe('home_network'); // 93.184.216.0/24
    expect(rule('org-b', 'ipv6', '::ffff:a00:0/120')).toBe('reserved_range'); // 10.0.0.0/24
    expect(rule('org-b', 'ipv6', '::ffff:808:800/120')).toBe('warning_list'); // 8.8.8.0/24
    expect(rule('org-b', 'ipv6', '::ffff:2d21:2000/120')).toBeUndefined(); // 45.33.32.0/24
    expect(rule('org-b', 'ipv6', '::ffff:2d00:0/104')).toBe('too_broad'); // 45.0.0.0/8
    expect(rule('org-b', 'url', 'http://[::ffff:c0a8:101]/admin')).toBe('reserved_range'); // 192.168.1.1
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
    // IPv6 networks of any size, in either direction of containment.
    expect(rule('org-b', 'ipv6', '2001:4860:4860::8888')).toBe('warning_list');
    expect(rule('org-b', 'ipv6', '2001:4860::/32')).toBe('warning_list');
    expect(rule('org-b', 'ipv6', '2600:1f18:1234::/48')).toBe('warning_list');
    expect(rule('org-b', 'ipv4', '52.95.0.0/16')).toBe('warning_list');
    // A cidr list for hashes does not apply to addresses.
    expect(rule('org-b', 'ipv4', '45.33.40.7')).toBeUndefined();
  });

  it('refuses every IANA special-purpose IPv6 range it is asked about', () => {
    for (const v of ['::', '::1', '::7f00:1', '64:ff9b::808:808', '64:ff9b:1::1', '100::1', '2001::1', '2001:2::1', '2001:db8::/48', '2002:c0a8:101::1', '3fff::1', '5f00::1', 'fc00::/7', 'fe80::1:2', 'ff02::1', '2000::/3']) {
      expect(checkGuardRails('org-b', value('ipv6', v), sources)?.rule, v).toBe('reserved_range');
    }
    expect(checkGuardRails('org-b', value('ipv6', '::1'), sources)?.matched).toBe('::1/128');
    expect(checkGuardRails('org-b', value('ipv6', '2001::5'), sources)?.matched).toBe('2001::/32');
    // Beside them, untouched: the public 2001:4:113::/48 next to AS112-v6, 2a01:4f8::/32.
    expect(rule('org-b', 'ipv6', '2001:4:113::/48')).toBe('reserved_range'); // still inside 2001::/23
    expect(rule('org-b', 'ipv6', '2001:200::/32')).toBeUndefined(); // just past 2001::/23
    expect(rule('org-b', 'ipv6', '2a01:4f8::/32')).toBeUndefined();
  });

  it('refuses special-use names and too-broad networks; passes hashes and public hosts', () => {
    expect(rule('org-b', 'domain', 'nas.home.arpa')).toBe('reserved_domain');
    expect(rule('org-b', 'ipv4', '45.0.0.0/15')).toBe('too_broad');
    expect(rule('org-b', 'ipv6', '2a01::/16')).toBe('too_broad');
    expect(rule('org-b', 'sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBeUndefined();
    expect(rule('org-b', 'ipv4', '45.33.32.156')).toBeUndefined();
  });
});
