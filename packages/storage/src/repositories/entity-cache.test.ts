import { describe, expect, it } from 'vitest';
import { toDateTime64 } from '../sql.ts';
import type { EntityPeerTotal, EntityPort } from './aggregates.ts';
import { EntityRollupCache, comparePeers, comparePorts, mergeTop, topCandidates, type SettledEntityRollups } from './entity-cache.ts';

const HOUR = 3_600_000;
const peer = (sortKey: string, connections: number, bytes = connections * 10): EntityPeerTotal => ({ ip: sortKey, sortKey, connections, bytes });
const addPeers = (a: EntityPeerTotal, b: EntityPeerTotal): EntityPeerTotal => ({ ...a, connections: a.connections + b.connections, bytes: a.bytes + b.bytes });
/**
 * mergeTop over what entityRange returns for the live hours: the candidates that have live rows
 * with their totals, the first n + 1 by total, and the other live rows with their live counts, the
 * first n + 1.
 */
function mergePeers(settled: EntityPeerTotal[], limit: number, live: EntityPeerTotal[], n: number): EntityPeerTotal[] | undefined {
  const candidates = topCandidates([...settled].sort(comparePeers), limit);
  const settledOf = new Map(candidates.rows.map((p) => [p.sortKey, p]));
  const withTotals = live.filter((p) => settledOf.has(p.sortKey)).map((p) => addPeers(settledOf.get(p.sortKey)!, p));
  const others = live.filter((p) => !settledOf.has(p.sortKey));
  return mergeTop(candidates, { candidates: withTotals.sort(comparePeers).slice(0, n + 1), others: others.sort(comparePeers).slice(0, n + 1) }, n, (p) => p.sortKey, comparePeers);
}

/** Sums of rows by key, ranked as the roll-up query ranks them. */
function exactTop(rows: EntityPeerTotal[], n: number): EntityPeerTotal[] {
  const totals = new Map<string, EntityPeerTotal>();
  for (const r of rows) {
    const known = totals.get(r.sortKey);
    totals.set(r.sortKey, known === undefined ? r : addPeers(known, r));
  }
  return [...totals.values()].sort(comparePeers).slice(0, n);
}

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('mergeTop', () => {
  it('adds the live hours to every settled row when the settled list is complete, live-only rows included', () => {
    const top = mergePeers([peer('a', 5), peer('b', 3), peer('c', 3)], 10, [peer('c', 1), peer('d', 4), peer('e', 1)], 3);
    expect(top).toEqual([peer('a', 5), peer('c', 4, 40), peer('d', 4)]);
  });

  it('decides from candidates when no row left out can reach the n-th total, and declines when one could', () => {
    const settled = [peer('a', 50), peer('b', 40), peer('c', 30), peer('d', 10), peer('e', 9), peer('f', 8)];
    // Candidates a, b, c, d; bound 9 (e): every other row has at most 9 settled connections.
    expect(mergePeers(settled, 4, [peer('b', 20), peer('x', 5)], 2)).toEqual([peer('b', 60, 600), peer('a', 50)]);
    // The 3rd total (c, 30) is above 9 + 20 (x's live count): decided.
    expect(mergePeers(settled, 4, [peer('x', 20)], 3)).toEqual([peer('a', 50), peer('b', 40), peer('c', 30)]);
    // x could have up to 9 + 21 = 30 connections, tying c's 30: not decided.
    expect(mergePeers(settled, 4, [peer('x', 21)], 3)).toBeUndefined();
    // Fewer candidates than n: rows left out could fill the list.
    expect(mergePeers(settled, 2, [], 3)).toBeUndefined();
  });

  it('ranks ports by connections, then port, then protocol, as the roll-up query does', () => {
    const ports: EntityPort[] = [
      { port: 443, protocol: 'udp', connections: 2 },
      { port: 443, protocol: 'tcp', connections: 2 },
      { port: 22, protocol: 'tcp', connections: 2 },
      { port: 80, protocol: 'tcp', connections: 3 },
    ];
    expect([...ports].sort(comparePorts).map((p) => `${p.port}/${p.protocol}`)).toEqual(['80/tcp', '22/tcp', '443/tcp', '443/udp']);
  });

  it('over random hours, is either undefined or exactly the top list of all hours', () => {
    let decided = 0;
    let declined = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = random(seed);
      const peers = 5 + Math.floor(r() * 300);
      const skew = 0.5 + r() * 3;
      const hours = 2 + Math.floor(r() * 30);
      const settledHours = 1 + Math.floor(r() * (hours - 1));
      const settledRows: EntityPeerTotal[] = [];
      const liveRows: EntityPeerTotal[] = [];
      for (let h = 0; h < hours; h++) {
        const perHour = new Map<string, number>();
        for (let i = 0; i < 40; i++) {
          // Skewed: a few busy peers, a long tail; small counts make ties common.
          const p = `p${String(Math.floor(peers * r() ** skew)).padStart(3, '0')}`;
          perHour.set(p, (perHour.get(p) ?? 0) + 1 + Math.floor(r() * 3));
        }
        for (const [k, c] of perHour) (h < settledHours ? settledRows : liveRows).push(peer(k, c, c * 7 + h));
      }
      const n = 1 + Math.floor(r() * 10);
      const limit = 1 + Math.floor(r() * 60);
      const settledTotals = exactTop(settledRows, Number.MAX_SAFE_INTEGER);
      const liveTotals = exactTop(liveRows, Number.MAX_SAFE_INTEGER);
      const got = mergePeers(settledTotals, limit, liveTotals, n);
      if (got === undefined) {
        declined++;
        continue;
      }
      decided++;
      expect(got, `seed ${seed}`).toEqual(exactTop([...settledRows, ...liveRows], n));
    }
    // Both outcomes occur, so both branches were checked.
    expect(decided).toBeGreaterThan(50);
    expect(declined).toBeGreaterThan(10);
  });
});

function entry(settledUntil: number): SettledEntityRollups {
  return { settledUntil, timeline: [], peers: { rows: [], complete: true, bound: 0 }, ports: { rows: [], complete: true, bound: 0 }, seen: undefined };
}

describe('EntityRollupCache', () => {
  const now = Date.UTC(2026, 10, 26, 15, 30);
  const settle = 2 * HOUR;

  it('settles an hour `settleMs` after its end', () => {
    const cache = new EntityRollupCache(1 << 20, settle);
    expect(cache.settledUntil(now)).toBe(Date.UTC(2026, 10, 26, 13));
    expect(new EntityRollupCache(1 << 20, 0).settledUntil(now)).toBe(Date.UTC(2026, 10, 26, 15));
  });

  it('drops the entries of an organization that late rows fall into, and keeps the others', () => {
    const cache = new EntityRollupCache(1 << 20, settle);
    const until = cache.settledUntil(now);
    const keys = { a: EntityRollupCache.key(['org-a'], '10.0.0.1', until - 24 * HOUR), ab: EntityRollupCache.key(['org-b', 'org-a'], '10.0.0.1', until - 24 * HOUR), b: EntityRollupCache.key(['org-b'], '10.0.0.2', until - 24 * HOUR) };
    expect(keys.ab).toBe(EntityRollupCache.key(['org-a', 'org-b'], '10.0.0.1', until - 24 * HOUR));
    cache.set(keys.a, ['org-a'], entry(until), cache.generation);
    cache.set(keys.ab, ['org-a', 'org-b'], entry(until), cache.generation);
    cache.set(keys.b, ['org-b'], entry(until), cache.generation);

    // Rows of the current and of unsettled hours, of another table, or none: nothing changes.
    const generation = cache.generation;
    cache.observeInsert('events', [{ org_id: 'org-a', time: toDateTime64(now - 5 * 60_000) }, { org_id: 'org-a', time: toDateTime64(until + 1) }], now);
    cache.observeInsert('detections', [{ org_id: 'org-a', time: toDateTime64(now - 30 * HOUR) }], now);
    cache.observeInsert('events', [], now);
    expect(cache.generation).toBe(generation);
    expect(cache.size).toBe(3);

    // One row of org-a three hours back among recent ones: org-a's entries go, org-b's stays.
    cache.observeInsert('events', [{ org_id: 'org-a', time: toDateTime64(now - 60_000) }, { org_id: 'org-a', time: toDateTime64(now - 3 * HOUR) }], now);
    expect(cache.generation).toBe(generation + 1);
    expect(cache.get(keys.a)).toBeUndefined();
    expect(cache.get(keys.ab)).toBeUndefined();
    expect(cache.get(keys.b)).toBeDefined();
    expect(cache.stats.invalidations).toBe(2);

    // An entry that ends before the late hour holds none of it.
    const older = EntityRollupCache.key(['org-b'], '10.0.0.3', until - 48 * HOUR);
    cache.set(older, ['org-b'], entry(until - 10 * HOUR), cache.generation);
    cache.observeInsert('events', [{ org_id: 'org-b', time: toDateTime64(until - 5 * HOUR) }], now);
    expect(cache.get(older)).toBeDefined();
    expect(cache.get(keys.b)).toBeUndefined();
  });

  it('does not keep what was read while late rows arrived', () => {
    const cache = new EntityRollupCache(1 << 20, settle);
    const key = EntityRollupCache.key(['org-a'], '10.0.0.1', 0);
    const before = cache.generation;
    cache.observeInsert('events', [{ org_id: 'org-z', time: toDateTime64(now - 10 * HOUR) }], now);
    expect(cache.set(key, ['org-a'], entry(cache.settledUntil(now)), before)).toBe(false);
    expect(cache.get(key)).toBeUndefined();
    expect(cache.set(key, ['org-a'], entry(cache.settledUntil(now)), cache.generation)).toBe(true);
  });

  it('drops everything for rows it cannot read', () => {
    for (const row of [{ org_id: 'org-a', time: 'yesterday' }, { org_id: 7, time: toDateTime64(now) }, { org_id: 'org-a' }]) {
      const cache = new EntityRollupCache(1 << 20, settle);
      cache.set('k', ['org-b'], entry(cache.settledUntil(now)), cache.generation);
      cache.observeInsert('events', [row], now);
      expect(cache.size, JSON.stringify(row)).toBe(0);
    }
  });

  it('reads epoch milliseconds as well as ClickHouse text', () => {
    const cache = new EntityRollupCache(1 << 20, settle);
    cache.set('k', ['org-a'], entry(cache.settledUntil(now)), cache.generation);
    cache.observeInsert('events', [{ org_id: 'org-a', time: now - 6 * HOUR }], now);
    expect(cache.size).toBe(0);
  });
});
