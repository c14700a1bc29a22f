import { describe, expect, it } from 'vitest';
import { isIpv6Flow, protocolOfName, protocolOfNumber } from './protocol.ts';

describe('protocol names of events', () => {
  it('names numbers by their IANA keyword, others by their decimal text', () => {
    expect([1, 6, 17, 47, 50, 58, 132, 0, 200, 255].map(protocolOfNumber)).toEqual(['icmp', 'tcp', 'udp', 'gre', 'esp', 'ipv6-icmp', 'sctp', '0', '200', '255']);
  });

  it('lower-cases names and gives ICMPv6 one name whatever the sensor wrote', () => {
    expect(protocolOfName('TCP', false)).toBe('tcp');
    expect(protocolOfName('UDP', true)).toBe('udp');
    expect(protocolOfName('IPv6-ICMP', true)).toBe('ipv6-icmp');
    expect(protocolOfName('icmpv6', true)).toBe('ipv6-icmp');
    expect(protocolOfName('ICMP6', true)).toBe('ipv6-icmp');
    expect(protocolOfName('GRE', false)).toBe('gre');
    expect(protocolOfName('ospf', false)).toBe('ospfigp');
  });

  it('reads icmp between IPv6 addresses as ICMPv6 (Zeek writes icmp for both), and only there', () => {
    expect(protocolOfName('icmp', true)).toBe('ipv6-icmp');
    expect(protocolOfName('icmp', false)).toBe('icmp');
    expect(protocolOfName('ICMP', false)).toBe('icmp');
  });

  it('names decimal texts like numbers, and keeps other texts as they are (lower case)', () => {
    expect(protocolOfName('58', true)).toBe('ipv6-icmp');
    expect(protocolOfName('6', false)).toBe('tcp');
    expect(protocolOfName('256', false)).toBe('256');
    expect(protocolOfName('0047', false)).toBe('0047');
    expect(protocolOfName('Unknown-Proto', false)).toBe('unknown-proto');
  });

  it('tells an IPv6 flow by its address, with IPv4 mapped into IPv6 counted as IPv4', () => {
    expect(isIpv6Flow('2001:db8::5')).toBe(true);
    expect(isIpv6Flow('fe80::1')).toBe(true);
    expect(isIpv6Flow('10.0.0.5')).toBe(false);
    expect(isIpv6Flow('::ffff:10.0.0.5')).toBe(false);
    expect(isIpv6Flow('::FFFF:10.0.0.5')).toBe(false);
    expect(isIpv6Flow('')).toBe(false);
  });
});
