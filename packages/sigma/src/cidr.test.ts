import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCidr, parseIp } from './cidr.ts';

/** The definition Mamori's IPv4 rule follows: four dot-separated parts 0–255 in decimal, no leading zeros. */
function referenceV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

describe('IPv4 parsing', () => {
  it('accepts exactly what the definition accepts (no leading zeros), with the same bytes', () => {
    const part = fc.oneof(fc.stringMatching(/^[0-9]{0,4}$/), fc.constantFrom('255', '256', '00', '007', '999', '1a', ' 1', '', '٣'));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.constantFrom('', ' ', '\t'), (parts, pad) => {
        const text = `${pad}${parts.join('.')}${pad}`;
        const want = referenceV4(text.trim());
        const got = parseIp(text);
        if (text.includes(':')) return;
        expect(got === undefined ? undefined : [...got.subarray(12)], text).toEqual(want);
        if (got) expect([...got.subarray(0, 12)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
      }),
      { numRuns: 5000 },
    );
  });

  it('cidr membership over parsed addresses', () => {
    const net = compileCidr('172.16.0.0/12')!;
    expect(net('172.31.255.255')).toBe(true);
    expect(net('172.32.0.0')).toBe(false);
    // A leading zero is no address (octal to some parsers), as everywhere else in Mamori.
    expect(net('172.016.0.1')).toBe(false);
    expect(net('172.16.0.1')).toBe(true);
    expect(net('172.16.0')).toBe(false);
    expect(net('172.16.0.1.')).toBe(false);
    expect(net('-')).toBe(false);
    expect(compileCidr('::ffff:10.0.0.0/104')!('10.1.2.3')).toBe(true);
  });
});
