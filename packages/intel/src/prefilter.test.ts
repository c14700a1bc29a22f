/**
 * The prefilters may only ever answer "absent" for keys that are absent: a Bloom filter that drops
 * a key, a suffix or URL hash that differs from the one stored, or a /20 cell left unmarked would
 * silently lose matches. Checked directly (properties over the filters and hashes) and end to end
 * (an index with prefilters against the same index without them).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndicatorIndex } from './indicator-index.ts';
import { parseCidr } from './ip.ts';
import { BlockedBloom, hashReverse, hashString } from './prefilter.ts';
import { PrefixTrie } from './prefix-trie.ts';
import type { Indicator } from './types.ts';

describe('BlockedBloom', () => {
  it('never says absent for an added key (property: integers, strings, reversed strings)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 400 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 200 }), fc.integer({ min: 0, max: 3000 }), (ints, strs, expected) => {
        const a = new BlockedBloom(expected);
        const b = new BlockedBloom(expected);
        const c = new BlockedBloom(expected);
        for (const k of ints) a.addU32(k);
        for (const s of strs) {
          b.addString(s);
          c.addReversed(s);
        }
        for (const k of ints) expect(a.mayContainU32(k)).toBe(true);
        for (const s of strs) {
          expect(b.mayContainString(s)).toBe(true);
          expect(c.mayContain(hashReverse(s))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('lets few absent keys through at its sizing (about 1% at 10 bits per key)', () => {
    const n = 20_000;
    const f = new BlockedBloom(n);
    for (let i = 0; i < n; i++) f.addU32(Math.imul(i, 2654435761) >>> 0);
    expect(f.full).toBe(false);
    let passed = 0;
    for (let i = n; i < n + 100_000; i++) if (f.mayContainU32(Math.imul(i, 2654435761) >>> 0)) passed++;
    expect(passed / 100_000).toBeLessThan(0.03);
    // A filter that says "maybe" to everything would pass the property above; this one must not.
    const s = new BlockedBloom(1000);
    for (let i = 0; i < 1000; i++) s.addString(`host${i}.example.com`);
    let sp = 0;
    for (let i = 1000; i < 11_000; i++) if (s.mayContainString(`host${i}.example.com`)) sp++;
    expect(sp / 10_000).toBeLessThan(0.03);
  });

  it('reports full past its capacity and starts empty after reset', () => {
    const f = new BlockedBloom(100);
    let i = 0;
    while (!f.full) f.addU32(i++);
    expect(i).toBeGreaterThan(100);
    f.reset(i * 2);
    expect(f.size).toBe(0);
    expect(f.full).toBe(false);
    expect(f.bytes).toBeGreaterThanOrEqual((i * 2 * 10) / 8);
  });
});

describe('one-pass hashes equal the hashes of the sliced strings', () => {
  const label = fc.constantFrom('a', 'evil', 'c2', 'example', 'com', 'xn--bcher-kva', '0', 'ÿ', '');
  it('hashSuffixes: every label suffix (property)', () => {
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 12 }), (labels) => {
        const name = labels.join('.');
        const starts = new Int32Array(128);
        const hashes = new Uint32Array(128);
        const n = new BlockedBloom().hashSuffixes(name, starts, hashes);
        expect(n).toBe(labels.length);
        for (let m = 1; m <= n; m++) {
          const suffix = labels.slice(labels.length - m).join('.');
          expect(name.slice(starts[m - 1]!)).toBe(suffix);
          expect(hashes[m - 1]).toBe(hashReverse(suffix));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('hashUrl: the key and its part before the first "?" (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (key) => {
        const out = new Uint32Array(2);
        const q = new BlockedBloom().hashUrl(key, out);
        expect(q).toBe(key.indexOf('?'));
        expect(out[0]).toBe(hashString(key));
        if (q >= 0) expect(out[1]).toBe(hashString(key.slice(0, q)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('PrefixTrie /20 occupancy bitmap', () => {
  it('collectV4 finds the same networks with and without it (property)', () => {
    const net = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, p]) => parseCidr(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p}`)!);
    // Probes near the networks (same /16, /20 or /24) as well as anywhere.
    fc.assert(
      fc.property(fc.array(net, { maxLength: 60 }), fc.array(fc.tuple(fc.nat(59), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0xffff, 0xfff, 0xff, 0xffffffff)), { maxLength: 60 }), (nets, probes) => {
        const on = new PrefixTrie<number>();
        const off = new PrefixTrie<number>({ cellFilter: false });
        nets.forEach((c, i) => {
          on.upsert(c, () => i);
          off.upsert(c, () => i);
        });
        for (const [j, r, spread] of probes) {
          const base = nets.length > 0 && spread !== 0xffffffff ? nets[j % nets.length]!.words[0]! : 0;
          const ip = ((base & ~spread) | (r & spread)) >>> 0;
          const a: number[] = [];
          const b: number[] = [];
          on.collectV4(ip, a);
          off.collectV4(ip, b);
          expect(a).toEqual(b);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('IndicatorIndex with prefilters matches what it matches without them', () => {
  const mk = (kind: Indicator['kind'], value: string, n: number): Indicator => ({ kind, value, source: 'f', id: `id${n}`, confidence: 50, validFrom: 0, validUntil: Infinity });
  const hex = (n: number, len: number) => (n >>> 0).toString(16).padStart(8, '0').repeat(8).slice(0, len);

  it('finds every one of thousands of indicators (filters rebuilt as they grow) and agrees on absent ones', () => {
    const all: Indicator[] = [];
    for (let i = 0; i < 6000; i++) {
      const x = Math.imul(i + 1, 2654435761) >>> 0;
      const ip = `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
      all.push(mk('ip', ip, i), mk('domain', `h${i}.example${i % 50}.com`, i), mk('url', `u${i}.example.net/p${i}`, i), mk('sha256', hex(x, 64), i), mk('md5', hex(x, 32), i));
      if (i % 5 === 0) all.push(mk('ip', `${ip}/${16 + (i % 17)}`, i));
    }
    const on = new IndicatorIndex();
    const off = new IndicatorIndex(undefined, { prefilter: false });
    for (const i of all) {
      on.add(i);
      off.add(i);
    }
    expect(on.prefilterBytes).toBeGreaterThan(0);
    expect(off.prefilterBytes).toBe(0);
    let hits = 0;
    for (let i = 0; i < 6000; i++) {
      const x = Math.imul(i + 1, 2654435761) >>> 0;
      const ip = `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
      const y = (x ^ 0x5a5a5a5a) >>> 0;
      const other = `${y >>> 24}.${(y >>> 16) & 255}.${(y >>> 8) & 255}.${y & 255}`;
      for (const [a, b] of [
        [on.matchIp(ip, 1), off.matchIp(ip, 1)],
        [on.matchIp(other, 1), off.matchIp(other, 1)],
        [on.matchDomain(`x.H${i}.example${i % 50}.com.`, 1), off.matchDomain(`x.H${i}.example${i % 50}.com.`, 1)],
        [on.matchDomain(`h${i}.example${(i + 1) % 50}.com`, 1), off.matchDomain(`h${i}.example${(i + 1) % 50}.com`, 1)],
        [on.matchUrl(`u${i}.example.net`, `/p${i}?q=1`, 1), off.matchUrl(`u${i}.example.net`, `/p${i}?q=1`, 1)],
        [on.matchUrl(`u${i}.example.net`, `/p${i + 1}`, 1), off.matchUrl(`u${i}.example.net`, `/p${i + 1}`, 1)],
        [on.matchValue('sha256', hex(x, 64).toUpperCase(), 1), off.matchValue('sha256', hex(x, 64).toUpperCase(), 1)],
        [on.matchValue('md5', hex(y, 32), 1), off.matchValue('md5', hex(y, 32), 1)],
      ] as const) {
        expect(a).toEqual(b);
        hits += a.length;
      }
      // Every indicator listed is found through the filters.
      expect(on.matchIp(ip, 1).some((m) => m.indicator.value === ip)).toBe(true);
      expect(on.matchDomain(`h${i}.example${i % 50}.com`, 1).length).toBe(1);
      expect(on.matchUrl(`u${i}.example.net`, `/p${i}`, 1).length).toBe(1);
      expect(on.matchValue('md5', hex(x, 32), 1).length).toBe(1);
    }
    // Four of the eight probes per indicator are listed (address, parent domain, URL without its query, upper-case hash).
    expect(hits).toBeGreaterThanOrEqual(6000 * 4);
  });
});
