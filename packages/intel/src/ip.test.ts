import { describe, expect, it } from 'vitest';
import { formatWords, parseCidr } from './ip.ts';

const show = (text: string): string | undefined => {
  const c = parseCidr(text);
  return c ? `${formatWords(c.words)}/${c.prefix}` : undefined;
};

describe('parseCidr', () => {
  it('reads IPv4 and IPv6 networks and clears host bits', () => {
    expect(show('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(show('2001:db8::1/32')).toBe('2001:db8::/32');
    expect(show('192.0.2.7')).toBe('192.0.2.7/32');
  });

  it('counts an IPv4-mapped network prefix over 128 bits: /96 and longer is the IPv4 network it carries', () => {
    // Warning lists carry entries like this one; they used to be rejected (prefix 120 > 32).
    expect(show('::ffff:1.2.3.0/120')).toBe('1.2.3.0/24');
    expect(show('::ffff:1.2.3.4/128')).toBe('1.2.3.4/32');
    expect(show('::ffff:1.2.3.4')).toBe('1.2.3.4/32');
    expect(show('::ffff:0.0.0.0/96')).toBe('0.0.0.0/0');
  });

  it('keeps a mapped network shorter than /96 as IPv6 (it reaches beyond the mapped range)', () => {
    expect(show('::ffff:1.2.3.4/80')).toBe('::/80');
    expect(show('::ffff:1.2.3.4/95')).toBe('::fffe:0:0/95');
  });

  it('rejects malformed prefixes', () => {
    expect(show('::ffff:1.2.3.0/129')).toBeUndefined();
    expect(show('1.2.3.0/33')).toBeUndefined();
    expect(show('1.2.3.0/x')).toBeUndefined();
  });
});
