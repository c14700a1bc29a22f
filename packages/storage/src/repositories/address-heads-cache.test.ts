import { describe, expect, it } from 'vitest';
import { AddressHeadsCache, compareUtf8, pickHeads, type AddressHead, type AddressHeadsReader } from './address-heads-cache.ts';

// The cache's bookkeeping against a reader over an in-memory table of versions (what
// `detections_by_ip FINAL` answers for one address); the answers against real chDB are checked in
// test/integration/api-address-heads.test.ts.
interface Version extends AddressHead {
  ip: string;
}

function table() {
  const versions: Version[] = [];
  const calls: (readonly string[] | undefined)[] = [];
  const reader =
    (ip: string, orgs?: readonly string[]): AddressHeadsReader =>
    async (ids, max) => {
      calls.push(ids);
      await Promise.resolve();
      const latest = new Map<string, Version>();
      for (const v of versions) {
        if (v.ip !== ip || (orgs !== undefined && !orgs.includes(v.orgId)) || (ids !== undefined && !ids.includes(v.detectionId))) continue;
        const key = `${v.orgId}/${v.detectionId}`;
        const held = latest.get(key);
        if (held === undefined || v.version > held.version) latest.set(key, v);
      }
      return [...latest.values()].slice(0, max + 1).map(({ orgId, detectionId, version, lastSeen }) => ({ orgId, detectionId, version, lastSeen }));
    };
  const insert = (cache: AddressHeadsCache, ...rows: Version[]) => {
    versions.push(...rows);
    cache.observeInsert(
      'detections',
      rows.map((r) => ({ org_id: r.orgId, detection_id: r.detectionId })),
    );
  };
  return { versions, calls, reader, insert };
}

const v = (orgId: string, detectionId: string, version: number, lastSeen: number, ip = '10.0.0.1'): Version => ({ orgId, detectionId, version, lastSeen, ip });
const ids = (heads: readonly AddressHead[] | undefined) => heads?.map((h) => `${h.orgId}/${h.detectionId}@${h.version}`).sort();

describe('AddressHeadsCache', () => {
  it('fills once, then reads only the ids of detections inserted for its organizations', async () => {
    const t = table();
    const cache = new AddressHeadsCache(1 << 20);
    t.versions.push(v('org-a', 'd1', 1, 100), v('org-a', 'd2', 1, 200), v('org-b', 'd3', 1, 300));
    const read = t.reader('10.0.0.1', ['org-a']);
    expect(ids(await cache.heads(['org-a'], '10.0.0.1', read))).toEqual(['org-a/d1@1', 'org-a/d2@1']);
    // Sized with its heads once filled, not as the empty entry first set.
    const filled = cache.bytes;
    expect(filled).toBeGreaterThan(2 * 100);
    expect(ids(await cache.heads(['org-a'], '10.0.0.1', read))).toEqual(['org-a/d1@1', 'org-a/d2@1']);
    expect(t.calls).toEqual([undefined]);
    expect(cache.stats).toMatchObject({ misses: 1, hits: 1, refreshes: 0 });

    // Another organization's insert is not noted; this one's are, whatever their address.
    t.insert(cache, v('org-b', 'd4', 1, 400));
    expect(ids(await cache.heads(['org-a'], '10.0.0.1', read))).toHaveLength(2);
    expect(t.calls).toHaveLength(1);
    t.insert(cache, v('org-a', 'd1', 2, 500), v('org-a', 'd5', 1, 600, '10.0.0.2'));
    expect(ids(await cache.heads(['org-a'], '10.0.0.1', read))).toEqual(['org-a/d1@2', 'org-a/d2@1']);
    expect(t.calls.at(-1)).toEqual(['d1', 'd5']);
    expect(cache.stats).toMatchObject({ misses: 1, refreshes: 1 });
    // Sized again after a refresh that added heads.
    t.insert(cache, v('org-a', 'd6', 1, 700));
    await cache.heads(['org-a'], '10.0.0.1', read);
    expect(cache.bytes).toBeGreaterThan(filled);
    // A refresh takes the latest stored version of each noted id, whichever version the note was for.
    t.versions.push(v('org-a', 'd2', 3, 50));
    t.insert(cache, v('org-a', 'd2', 2, 40));
    expect(ids(await cache.heads(['org-a'], '10.0.0.1', read))).toEqual(['org-a/d1@2', 'org-a/d2@3', 'org-a/d6@1']);
  });

  it('keeps what was inserted during a read for the next use, and shares one read between callers', async () => {
    const t = table();
    const cache = new AddressHeadsCache(1 << 20);
    t.versions.push(v('org-a', 'd1', 1, 100));
    const inner = t.reader('10.0.0.1');
    let insertDuringRead = true;
    const read: AddressHeadsReader = async (list, max) => {
      const rows = await inner(list, max);
      if (insertDuringRead) {
        insertDuringRead = false;
        t.insert(cache, v('org-a', 'd2', 1, 200));
      }
      return rows;
    };
    const [a, b] = await Promise.all([cache.heads(undefined, '10.0.0.1', read), cache.heads(undefined, '10.0.0.1', read)]);
    // Both callers asked before d2 was inserted: the fill answers them; d2 waits, noted, for the next use.
    expect(ids(a)).toEqual(['org-a/d1@1']);
    expect(ids(b)).toEqual(['org-a/d1@1']);
    expect(t.calls).toEqual([undefined]);
    expect(ids(await cache.heads(undefined, '10.0.0.1', read))).toEqual(['org-a/d1@1', 'org-a/d2@1']);
    expect(t.calls).toEqual([undefined, ['d2']]);
  });

  it('gives up addresses with too many heads, drops entries with too many notes, and forgets a failed fill', async () => {
    const t = table();
    const cache = new AddressHeadsCache(1 << 20, 2, 3_600_000, 3);
    t.versions.push(v('org-a', 'd1', 1, 1), v('org-a', 'd2', 1, 2), v('org-a', 'd3', 1, 3), v('org-a', 'e1', 1, 1, '10.0.0.9'));
    const read = t.reader('10.0.0.1');
    expect(await cache.heads(undefined, '10.0.0.1', read)).toBeUndefined();
    expect(await cache.heads(undefined, '10.0.0.1', read)).toBeUndefined();
    expect(t.calls).toHaveLength(1);
    expect(cache.stats.oversized).toBe(2);

    const other = t.reader('10.0.0.9');
    expect(ids(await cache.heads(undefined, '10.0.0.9', other))).toEqual(['org-a/e1@1']);
    t.insert(cache, v('org-a', 'x1', 1, 9, '10.1.1.1'), v('org-a', 'x2', 1, 9, '10.1.1.1'), v('org-a', 'x3', 1, 9, '10.1.1.1'), v('org-a', 'x4', 1, 9, '10.1.1.1'));
    const before = t.calls.length;
    expect(ids(await cache.heads(undefined, '10.0.0.9', other))).toEqual(['org-a/e1@1']);
    expect(t.calls.slice(before)).toEqual([undefined]);

    // An entry that grows past maxHeads through inserts is given up as if found so at the fill.
    const grows = t.reader('10.0.0.7');
    t.versions.push(v('org-a', 'g1', 1, 1, '10.0.0.7'));
    expect(ids(await cache.heads(undefined, '10.0.0.7', grows))).toEqual(['org-a/g1@1']);
    t.insert(cache, v('org-a', 'g2', 1, 2, '10.0.0.7'), v('org-a', 'g3', 1, 3, '10.0.0.7'));
    expect(await cache.heads(undefined, '10.0.0.7', grows)).toBeUndefined();
    expect(await cache.heads(undefined, '10.0.0.7', grows)).toBeUndefined();

    const failing: AddressHeadsReader = async () => {
      throw new Error('engine down');
    };
    await expect(cache.heads(['org-c'], '10.0.0.1', failing)).rejects.toThrow('engine down');
    expect(await cache.heads(['org-c'], '10.0.0.1', t.reader('10.0.0.1', ['org-c']))).toEqual([]);
  });

  it('restores the ids of a failed refresh, and clears everything on a row it cannot place', async () => {
    const t = table();
    const cache = new AddressHeadsCache(1 << 20);
    const read = t.reader('10.0.0.1');
    await cache.heads(undefined, '10.0.0.1', read);
    t.insert(cache, v('org-a', 'd1', 1, 100));
    await expect(cache.heads(undefined, '10.0.0.1', async () => Promise.reject(new Error('timeout')))).rejects.toThrow('timeout');
    expect(ids(await cache.heads(undefined, '10.0.0.1', read))).toEqual(['org-a/d1@1']);
    cache.observeInsert('detections', [{ org_id: 'org-a' }]);
    const before = t.calls.length;
    await cache.heads(undefined, '10.0.0.1', read);
    expect(t.calls.slice(before)).toEqual([undefined]);
    expect(cache.bytes).toBeGreaterThan(0);
  });
});

describe('pickHeads', () => {
  it("orders as ClickHouse does: last_seen newest first, then id descending in UTF-8 bytes, one row per id, in [since, until)", () => {
    const heads = [v('org-a', 'b', 1, 10), v('org-a', 'a', 1, 10), v('org-a', 'c', 2, 5), v('org-b', 'b', 4, 7), v('org-a', 'z', 1, 20), v('org-a', 'y', 1, 1)];
    expect(pickHeads(heads, 5, 20, 10).map((h) => `${h.orgId}/${h.detectionId}`)).toEqual(['org-a/b', 'org-a/a', 'org-a/c']);
    expect(pickHeads(heads, undefined, undefined, 2).map((h) => h.detectionId)).toEqual(['z', 'b']);
    expect(pickHeads(heads, 8, undefined, 10).map((h) => h.detectionId)).toEqual(['z', 'b', 'a']);
    // U+FF5E sorts before U+1F600 in UTF-8 (EF BD.. < F0 9F..), after it in UTF-16 code units.
    expect(compareUtf8('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect('\uff5e' < '\u{1f600}').toBe(false);
    expect(compareUtf8('a', 'b')).toBe(-1);
    expect(compareUtf8('b', 'b')).toBe(0);
  });
});
