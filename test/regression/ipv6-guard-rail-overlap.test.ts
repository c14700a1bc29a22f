import { parseInventory } from '@mamori/inventory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGuardRails, warningListSources, type GuardRailSources } from '../../services/query-api/src/response/guard-rails.ts';
import { parseIndicatorValue } from '../../services/query-api/src/response/indicator-value.ts';
import { NetworkIndex, parseNetwork } from '../../services/query-api/src/response/network-range.ts';

// What broke: the guard rails probed only the two ends of an IPv6 network against the home networks
// and warning lists, so `2a00:1450::/32` passed while the home `2a00:1450:4001::/48` sat in its middle.
// The reference here is the definition itself: two networks overlap when their first..last address
// ranges (BigInt) intersect. Networks are written by this file's own formatter (uncompressed groups,
// dotted quads, IPv4-mapped), never by the code under test.

interface Net {
  family: 4 | 6;
  /** Address bits in the family's width, host bits cleared. */
  value: bigint;
  prefix: number;
}

const width = (n: Net) => (n.family === 4 ? 32 : 128);
const masked = (family: 4 | 6, value: bigint, prefix: number): Net => {
  const host = BigInt((family === 4 ? 32 : 128) - prefix);
  return { family, value: (value >> host) << host, prefix };
};
/** First and last address in one 128-bit space (IPv4 as ::ffff:a.b.c.d). */
function bounds(n: Net): [bigint, bigint] {
  const base = n.family === 4 ? (0xffffn << 32n) | n.value : n.value;
  return [base, base + (1n << BigInt(width(n) - n.prefix)) - 1n];
}
function overlapReference(a: Net, b: Net): boolean {
  const [alo, ahi] = bounds(a);
  const [blo, bhi] = bounds(b);
  return alo <= bhi && blo <= ahi;
}
function v4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}
function v6Text(value: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}
/** `style` picks among the ways an operator may write the network. */
function text(n: Net, style: 'plain' | 'mapped' | 'quad'): string {
  if (n.family === 6) return `${v6Text(n.value)}/${n.prefix}`;
  if (style === 'mapped') return `${v6Text((0xffffn << 32n) | n.value)}/${96 + n.prefix}`;
  if (style === 'quad') return `::ffff:${v4Text(n.value)}/${96 + n.prefix}`;
  return `${v4Text(n.value)}/${n.prefix}`;
}

// Values built from a few 16-bit pieces collide in their leading bits often, so overlaps (both
// directions of containment) and near misses are common rather than astronomically rare.
const piece = fc.oneof(fc.constantFrom(0n, 1n, 0x8000n, 0xffffn, 0x1450n, 0x4001n), fc.bigInt({ min: 0n, max: 0xffffn }));
const v6Value = fc.array(piece, { minLength: 8, maxLength: 8 }).map((ps) => ps.reduce((acc, p) => (acc << 16n) | p, 0n));
const v4Value = fc.array(piece, { minLength: 2, maxLength: 2 }).map(([a = 0n, b = 0n]) => (a << 16n) | b);
const anyNet: fc.Arbitrary<Net> = fc.oneof(
  fc.tuple(v6Value, fc.integer({ min: 0, max: 128 })).map(([v, p]) => masked(6, v, p)),
  fc.tuple(v4Value, fc.integer({ min: 0, max: 32 })).map(([v, p]) => masked(4, v, p)),
);
const style = fc.constantFrom('plain', 'mapped', 'quad') as fc.Arbitrary<'plain' | 'mapped' | 'quad'>;

describe('network overlap (BigInt range reference)', () => {
  it('parses every way of writing a network into the same range as the reference', () => {
    fc.assert(
      fc.property(anyNet, style, (n, s) => {
        const range = parseNetwork(text(n, s));
        const [lo, hi] = bounds(n);
        expect(range).toEqual({ lo, hi, prefix: n.family === 4 ? 96 + n.prefix : n.prefix });
      }),
      { numRuns: 2000 },
    );
  });

  it('NetworkIndex finds an overlapping network exactly when the reference says one exists', () => {
    const seen = { hit: 0, miss: 0 };
    fc.assert(
      fc.property(fc.array(anyNet, { maxLength: 40 }), anyNet, style, (stored, query, s) => {
        const index = new NetworkIndex<number>();
        stored.forEach((n, i) => index.add(parseNetwork(text(n, 'plain'))!, i));
        const hit = index.overlapping(parseNetwork(text(query, s))!);
        const expected = stored.some((n) => overlapReference(n, query));
        expect(hit !== undefined).toBe(expected);
        if (hit) expect(overlapReference(stored[hit.label]!, query)).toBe(true);
        seen[expected ? 'hit' : 'miss'] += 1;
      }),
      { numRuns: 3000 },
    );
    // The generators exercise both answers, not one of them only.
    expect(seen.hit).toBeGreaterThan(300);
    expect(seen.miss).toBeGreaterThan(300);
  });
});

describe('guard rails: home networks and warning lists by overlap, any prefix, both families', () => {
  // Public space only (2a00:1450::/32 and 45.0.0.0/8), at or narrower than the too_broad limits, so
  // the only rules that can fire are the ones under test.
  const PUBLIC6 = 0x2a001450n << 96n;
  const PUBLIC4 = 45n << 24n;
  const home6 = fc.tuple(fc.bigInt({ min: 0n, max: (1n << 96n) - 1n }), fc.integer({ min: 32, max: 128 })).map(([v, p]) => masked(6, PUBLIC6 | v, p));
  const home4 = fc.tuple(fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }), fc.integer({ min: 16, max: 32 })).map(([v, p]) => masked(4, PUBLIC4 | v, p));
  /** A target near one of the homes: same leading bits up to a random point, then random. */
  const near = (homes: Net[]) =>
    fc.tuple(fc.nat(), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.nat(), fc.integer({ min: 0, max: 128 })).map(([i, noise, keep, p]) => {
      const h = homes[i % homes.length]!;
      const w = width(h);
      const min = h.family === 4 ? 16 : 32;
      const keepBits = min + (keep % (w - min + 1));
      const noiseMask = (1n << BigInt(w - keepBits)) - 1n;
      const value = (h.value & ~noiseMask) | (noise & noiseMask);
      return masked(h.family, value, min + (p % (w - min + 1)));
    });

  const scenario = fc
    .tuple(fc.array(home6, { minLength: 1, maxLength: 6 }), fc.array(home4, { minLength: 1, maxLength: 6 }))
    .chain(([h6, h4]) => fc.tuple(fc.constant([...h6, ...h4]), near([...h6, ...h4]), style, fc.boolean()));

  it('refuses a block exactly when the target overlaps a home network (reference) or a listed network', () => {
    const seen = { refused: 0, passed: 0, strictlyInside: 0 };
    fc.assert(
      fc.property(scenario, ([homes, target, s, asList]) => {
        const lines = homes.map((h) => text(h, 'plain'));
        const inventory = parseInventory(JSON.stringify({ organizations: [{ id: 'org-a' }], home_networks: asList ? {} : { 'org-a': lines } }));
        const sources: GuardRailSources = {
          inventory: () => inventory,
          ...warningListSources(asList ? [{ name: 'cloud', type: 'cidr', list: lines }] : []),
        };
        const written = text(target, s);
        const indicator = parseIndicatorValue(target.family === 4 && s === 'plain' ? 'ipv4' : 'ipv6', written);
        if (typeof indicator === 'string') throw new Error(`${written}: ${indicator}`);
        const refusal = checkGuardRails('org-a', indicator, sources);
        const expected = homes.some((h) => overlapReference(h, target));
        expect(refusal?.rule, written).toBe(expected ? (asList ? 'warning_list' : 'home_network') : undefined);
        seen[expected ? 'refused' : 'passed'] += 1;
        // The case that broke: a home network strictly inside the target, touching neither end.
        const [tlo, thi] = bounds(target);
        if (homes.some((h) => bounds(h)[0] > tlo && bounds(h)[1] < thi) && !homes.some((h) => bounds(h)[0] <= tlo && bounds(h)[1] >= tlo)) seen.strictlyInside += 1;
      }),
      { numRuns: 1500 },
    );
    expect(seen.refused).toBeGreaterThan(150);
    expect(seen.passed).toBeGreaterThan(150);
    expect(seen.strictlyInside).toBeGreaterThan(20);
  });
});
