import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { communityIdText, SHA1_ONE_BLOCK_MAX } from './sha1.ts';

const reference = (m: Uint8Array): string => `1:${createHash('sha1').update(m).digest('base64')}`;

describe('one-block SHA-1 as Community ID text', () => {
  it('equals node:crypto on random messages of every length it takes, and on all-zero and all-ones bytes', () => {
    for (let n = 0; n <= SHA1_ONE_BLOCK_MAX; n++) {
      for (let k = 0; k < 40; k++) {
        const m = randomBytes(n);
        expect(communityIdText(m), `${n} bytes ${m.toString('hex')}`).toBe(reference(m));
      }
      expect(communityIdText(new Uint8Array(n))).toBe(reference(new Uint8Array(n)));
      expect(communityIdText(new Uint8Array(n).fill(0xff))).toBe(reference(new Uint8Array(n).fill(0xff)));
    }
  });

  it('hashes only the given length of a longer buffer, and calls after calls do not leak state', () => {
    const m = randomBytes(40);
    const first = communityIdText(m, 14);
    communityIdText(randomBytes(SHA1_ONE_BLOCK_MAX));
    expect(communityIdText(m, 14)).toBe(first);
    expect(first).toBe(reference(m.subarray(0, 14)));
  });

  it('refuses messages that need a second block', () => {
    expect(() => communityIdText(new Uint8Array(SHA1_ONE_BLOCK_MAX + 1))).toThrow(RangeError);
    expect(() => communityIdText(new Uint8Array(10), 11)).toThrow(RangeError);
  });
});
