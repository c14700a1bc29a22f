import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatWords, maskWords, parseCidr, parseIp, type IpWords } from './ip.ts';
import { PrefixTrie } from './prefix-trie.ts';

const cidr = (s: string) => parseCidr(s)!;
const ip = (s: string) => parseIp(s)!;

function contains(net: { words: IpWords; prefix: number }, addr: IpWords): boolean {
  if (net.words.length !== addr.length) return false;
  const m = maskWords(addr, net.prefix);
  return m.every((w, i) => w === net.words[i]);
}

describe('ip parsing', () => {
  it('parses and formats IPv4, IPv6, mapped and embedded forms', () => {
    expect(formatWords(ip('10.1.2.3'))).toBe('10.1.2.3');
    expect(formatWords(ip('2001:db8:0:0:0:0:0:1'))).toBe('2001:db8::1');
    expect(formatWords(ip('::ffff:192.0.2.1'))).toBe('192.0.2.1');
    expect(formatWords(ip('64:ff9b::192.0.2.33'))).toBe('64:ff9b::c000:221');
    expect(parseIp('010.0.0.1')).toBeUndefined();
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseCidr('10.1.2.3/8')!.words[0]).toBe(ip('10.0.0.0')[0]);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });
});

describe('PrefixTrie', () => {
  it('returns the longest of overlapping IPv4 and IPv6 prefixes, and every covering one', () => {
    const t = new PrefixTrie<string>();
    for (const p of ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.128/25', '0.0.0.0/0', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1:2::/64']) t.upsert(cidr(p), () => p);
    expect(t.lookup(ip('10.1.2.200'))?.value).toBe('10.1.2.128/25');
    expect(t.lookup(ip('10.1.2.5'))?.value).toBe('10.1.2.0/24');
    expect(t.lookup(ip('10.1.3.5'))?.value).toBe('10.1.0.0/16');
    expect(t.lookup(ip('10.200.0.1'))?.value).toBe('10.0.0.0/8');
    expect(t.lookup(ip('192.0.2.1'))?.value).toBe('0.0.0.0/0');
    expect([...t.covering(ip('10.1.2.200'))].map((h) => h.value)).toEqual(['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.128/25']);
    expect(t.lookup(ip('2001:db8:1:2::99'))?.value).toBe('2001:db8:1:2::/64');
    expect(t.lookup(ip('2001:db8:1:3::1'))?.value).toBe('2001:db8:1::/48');
    expect(t.lookup(ip('2001:db8:ffff::1'))?.value).toBe('2001:db8::/32');
    expect(t.lookup(ip('2001:db9::1'))).toBeUndefined();
    expect(t.size).toBe(8);
  });

  it('inserting in any order gives the same answers (splits above, below and beside)', () => {
    const t = new PrefixTrie<string>();
    for (const p of ['10.1.2.128/25', '10.1.2.0/24', '10.0.0.0/8', '10.1.0.0/16']) t.upsert(cidr(p), () => p);
    expect(t.lookup(ip('10.1.2.200'))?.value).toBe('10.1.2.128/25');
    expect(t.lookup(ip('10.1.2.1'))?.value).toBe('10.1.2.0/24');
    expect(t.lookup(ip('10.9.9.9'))?.value).toBe('10.0.0.0/8');
    expect(t.lookup(ip('11.0.0.0'))).toBeUndefined();
  });

  const v4Net = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([w, p]) => ({ words: maskWords(Uint32Array.of(w), p), prefix: p }));
  const v6Net = fc
    .tuple(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 128 }))
    .map(([w, p]) => ({ words: maskWords(Uint32Array.from(w), p), prefix: p }));

  it('agrees with a brute-force longest-prefix match (property, IPv4 and IPv6)', () => {
    // Addresses are drawn near the networks (same high bits) so most lookups hit something.
    const scenario = fc.tuple(fc.array(fc.oneof(v4Net, v6Net), { minLength: 1, maxLength: 60 }), fc.array(fc.tuple(fc.nat(), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 })), { maxLength: 40 }));
    fc.assert(
      fc.property(scenario, ([nets, probes]) => {
        const t = new PrefixTrie<number>();
        nets.forEach((n, i) => t.upsert(n, (old) => old ?? i));
        for (const [pick, noise] of probes) {
          const base = nets[pick % nets.length]!;
          const addr = Uint32Array.from(base.words, (w, i) => (w | ((noise[i] ?? 0) & (pick % 3 === 0 ? 0xffffffff : 0xff))) >>> 0);
          let best = -1;
          let bestLen = -1;
          nets.forEach((n, i) => {
            if (contains(n, addr) && n.prefix > bestLen) {
              // The first inserted network of a prefix keeps the value (old ?? i).
              const first = nets.findIndex((m) => m.prefix === n.prefix && m.words.length === n.words.length && m.words.every((w, k) => w === n.words[k]));
              best = first;
              bestLen = n.prefix;
            }
            void i;
          });
          const got = t.lookup(addr);
          expect(got?.value ?? -1).toBe(best);
          expect(got?.prefix ?? -1).toBe(bestLen);
          const covering = [...t.covering(addr)].map((h) => h.prefix);
          const expected = [...new Set(nets.filter((n) => contains(n, addr)).map((n) => n.prefix))].sort((a, b) => a - b);
          expect(covering).toEqual(expected);
          // The iterator-free forms the match path uses give the same networks in the same order.
          const collected: number[] = [];
          expect(t.collect(addr, collected)).toBe(expected.length);
          expect(collected).toEqual([...t.covering(addr)].map((h) => h.value));
          if (addr.length === 1) {
            const v4: number[] = [];
            t.collectV4(addr[0]!, v4);
            expect(v4).toEqual(collected);
          }
          expect(t.first(addr)).toBe(collected[0]);
          const cap = pick % 33;
          expect(t.first(addr, cap)).toBe([...t.covering(addr, cap)][0]?.value);
        }
      }),
      { numRuns: 300 },
    );
  });
});
