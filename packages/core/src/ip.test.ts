import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4BytesToUint32, ipv4ToUint32 } from './ip.ts';

/** The rule written the slow, obvious way: split on dots, a regex per part. */
function reference(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let out = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return -1;
    out = out * 256 + Number(p);
  }
  return out;
}

describe('ipv4ToUint32', () => {
  it('reads dotted quads and refuses everything else', () => {
    expect(ipv4ToUint32('0.0.0.0')).toBe(0);
    expect(ipv4ToUint32('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToUint32('10.1.2.3')).toBe(0x0a010203);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1.2.3.04', '1.2.3.4.', '.1.2.3', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '1.2.3.1000', '1.2.3.a', '::1', '1.2.3.4/8']) {
      expect(ipv4ToUint32(bad), bad).toBe(-1);
    }
  });

  it('agrees with the split-and-regex rule on generated strings', () => {
    const part = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', 'x', '1e2', '+1', ' 1'));
    const text = fc.oneof(
      fc.array(part, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('.')),
      fc.string({ maxLength: 16 }),
      fc.ipV4().map((ip) => ip),
    );
    fc.assert(fc.property(text, (t) => ipv4ToUint32(t) === reference(t)), { numRuns: 20_000 });
  });
});

describe('ipv4BytesToUint32', () => {
  it('reads a byte range by the same rule as the text, on generated strings placed inside other bytes', () => {
    const part = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', 'x', '1e2', '+1', ' 1'));
    const text = fc.oneof(
      fc.array(part, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('.')),
      fc.string({ maxLength: 16 }),
      fc.ipV4(),
    );
    // Latin-1 bytes (one per character, as the fused path's ASCII lines), with neighbours that must not be read.
    const around = fc.constantFrom('', '1', '.', '"', '9.');
    fc.assert(
      fc.property(around, text, around, (before, t, after) => {
        const bytes = Buffer.from(before + t + after, 'latin1');
        const fromBytes = ipv4BytesToUint32(bytes, before.length, before.length + t.length);
        // Characters above U+00FF have no one-byte form: the text rule refuses them, and so must the bytes' rule.
        return /[^\u0000-\u00ff]/.test(t) ? fromBytes === -1 && ipv4ToUint32(t) === -1 : fromBytes === ipv4ToUint32(t);
      }),
      { numRuns: 20_000 },
    );
    expect(ipv4BytesToUint32(Buffer.from('x10.1.2.3y'), 1, 9)).toBe(0x0a010203);
    expect(ipv4BytesToUint32(Buffer.from('10.1.2.34'), 0, 8)).toBe(0x0a010203);
    expect(ipv4BytesToUint32(Buffer.from('010.1.2.3'), 0, 9)).toBe(-1);
  });
});
