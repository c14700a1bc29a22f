import { describe, expect, it } from 'vitest';
import { ipRange } from './ip-range.ts';

describe('ipRange', () => {
  it('maps IPv4 addresses and CIDRs into the IPv4-mapped IPv6 range', () => {
    expect(ipRange('ip', '10.0.0.0/8')).toEqual({ lo: '0:0:0:0:0:ffff:a00:0', hi: '0:0:0:0:0:ffff:aff:ffff' });
    expect(ipRange('ip', '10.1.2.3')).toEqual({ lo: '0:0:0:0:0:ffff:a01:203', hi: '0:0:0:0:0:ffff:a01:203' });
    expect(ipRange('ip', '::ffff:10.0.0.0/104')).toEqual(ipRange('ip', '10.0.0.0/8'));
    expect(ipRange('ip', '0.0.0.0/0')).toEqual({ lo: '0:0:0:0:0:ffff:0:0', hi: '0:0:0:0:0:ffff:ffff:ffff' });
  });

  it('handles IPv6 CIDRs', () => {
    expect(ipRange('ip', '2001:db8::/32')).toEqual({ lo: '2001:db8:0:0:0:0:0:0', hi: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff' });
    expect(ipRange('ip', '::/0').hi).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('refuses what is not an address or CIDR', () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'x', '10.0.0.0/8/8', 'fe80::1%eth0', '10.0.0.0/-1', '10.0.0.0/']) {
      expect(() => ipRange('ip', bad), bad).toThrow(/ip/);
    }
  });
});
