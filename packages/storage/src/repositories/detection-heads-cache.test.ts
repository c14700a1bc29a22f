import { describe, expect, it } from 'vitest';
import { DetectionHeadsCache, compareUtf8, pickHeads, sortHeads, type DetectionHead, type DetectionHeadsReader, type HeldHeads } from './detection-heads-cache.ts';

// The cache's bookkeeping against a reader over an in-memory table of versions (what
// `detections_by_ip FINAL` answers for one address); the answers against real chDB are checked in
// test/integration/api-address-heads.test.ts.
interface Version extends DetectionHead {
  ip: string;
}

function table() {
  const versions: Version[] = [];
  const calls: (readonly string[] | undefined)[] = [];
  const reader =
    (ip: string, orgs?: readonly string[]): DetectionHeadsReader =>
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
      // The newest first, as the fill's statement orders them (a refresh reads few: any order).
      return [...latest.values()].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, max + 1).map(({ orgId, detectionId, version, lastSeen }) => ({ orgId, detectionId, version, lastSeen }));
    };
  const insert = (cache: DetectionHeadsCache, ...rows: Version[]) => {
    versions.push(...rows);
    cache.observeInsert(
      'detections',
      rows.map((r) => ({ org_id: r.orgId, detection_id: r.detectionId })),
    );
  };
  return { versions, calls, reader, insert };
}

const v = (orgId: string, detectionId: string, version: number, lastSeen: number, ip = '10.0.0.1'): Version => ({ orgId, detectionId, version, lastSeen, ip });
const ids = (held: HeldHeads | undefined) => held?.heads.map((h) => `${h.orgId}/${h.detectionId}@${h.version}`).sort();

describe('DetectionHeadsCache', () => {
  it('fills once, then reads only the ids of detections inserted for its organizations', async () => {
    const t = table();
    const cache = new DetectionHeadsCache(1 << 20);
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
    const cache = new DetectionHeadsCache(1 << 20);
    t.versions.push(v('org-a', 'd1', 1, 100));
    const inner = t.reader('10.0.0.1');
    let insertDuringRead = true;
    const read: DetectionHeadsReader = async (list, max) => {
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

  it('holds the newest maxHeads heads above a floor, keeps the floor through new versions and growth, drops entries with too many notes, and forgets a failed fill', async () => {
    const t = table();
    const cache = new DetectionHeadsCache(1 << 20, 2, 3_600_000, 3);
    t.versions.push(v('org-a', 'd1', 1, 1), v('org-a', 'd2', 1, 2), v('org-a', 'd3', 1, 3), v('org-a', 'e1', 1, 1, '10.0.0.9'));
    const read = t.reader('10.0.0.1');
    // The fill reads the 3 newest: d1 may have peers at last_seen 1 that were not read, so 1 is the floor.
    expect(await cache.heads(undefined, '10.0.0.1', read)).toMatchObject({ floor: 1 });
    expect(ids(await cache.heads(undefined, '10.0.0.1', read))).toEqual(['org-a/d2@1', 'org-a/d3@1']);
    expect(t.calls).toEqual([undefined]);
    const page = async (window: Parameters<DetectionHeadsCache['pick']>[3], limit: number) =>
      (await cache.pick(undefined, '10.0.0.1', read, window, limit, true))?.map((h) => h.detectionId);
    expect(await page({}, 2)).toEqual(['d3', 'd2']);
    // A third row would come from below the floor: picked in ClickHouse, unless the window stops above it.
    expect(await page({}, 3)).toBeUndefined();
    expect(cache.stats.fallbacks).toBe(1);
    expect(await page({ since: 2 }, 3)).toEqual(['d3', 'd2']);
    expect(await page({ since: 1 }, 3)).toBeUndefined();
    // A new version at or below the floor leaves the entry; one above it comes in.
    t.insert(cache, v('org-a', 'd3', 2, 1));
    expect(await page({}, 1)).toEqual(['d2']);
    expect(await page({}, 2)).toBeUndefined();
    t.insert(cache, v('org-a', 'd1', 2, 4));
    expect(await page({}, 2)).toEqual(['d1', 'd2']);
    // Grown past maxHeads through inserts: the floor rises to the newest head let go.
    t.insert(cache, v('org-a', 'g1', 1, 5));
    expect(await cache.heads(undefined, '10.0.0.1', read)).toMatchObject({ floor: 2 });
    expect(ids(await cache.heads(undefined, '10.0.0.1', read))).toEqual(['org-a/d1@2', 'org-a/g1@1']);
    expect(await page({ since: 3 }, 5)).toEqual(['g1', 'd1']);
    expect(t.calls.filter((c) => c === undefined)).toHaveLength(1);

    // A tie at the cut: none of the tied heads is held.
    const tied = t.reader('10.0.0.5');
    t.versions.push(v('org-a', 't1', 1, 7, '10.0.0.5'), v('org-a', 't2', 1, 7, '10.0.0.5'), v('org-a', 't3', 1, 7, '10.0.0.5'));
    expect(await cache.heads(undefined, '10.0.0.5', tied)).toEqual({ heads: [], floor: 7 });
    expect(await cache.pick(undefined, '10.0.0.5', tied, {}, 1, true)).toBeUndefined();
    expect(await cache.pick(undefined, '10.0.0.5', tied, { since: 8 }, 1, true)).toEqual([]);

    const other = t.reader('10.0.0.9');
    expect(ids(await cache.heads(undefined, '10.0.0.9', other))).toEqual(['org-a/e1@1']);
    t.insert(cache, v('org-a', 'x1', 1, 9, '10.1.1.1'), v('org-a', 'x2', 1, 9, '10.1.1.1'), v('org-a', 'x3', 1, 9, '10.1.1.1'), v('org-a', 'x4', 1, 9, '10.1.1.1'));
    const before = t.calls.length;
    expect(ids(await cache.heads(undefined, '10.0.0.9', other))).toEqual(['org-a/e1@1']);
    expect(t.calls.slice(before)).toEqual([undefined]);

    const failing: DetectionHeadsReader = async () => {
      throw new Error('engine down');
    };
    await expect(cache.heads(['org-c'], '10.0.0.1', failing)).rejects.toThrow('engine down');
    expect(await cache.heads(['org-c'], '10.0.0.1', t.reader('10.0.0.1', ['org-c']))).toEqual({ heads: [], floor: -Infinity });
  });

  it('restores the ids of a failed refresh, and clears everything on a row it cannot place', async () => {
    const t = table();
    const cache = new DetectionHeadsCache(1 << 20);
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
  const all = (heads: DetectionHead[]): HeldHeads => ({ heads: sortHeads([...heads]), floor: -Infinity });
  const names = (page: DetectionHead[] | undefined) => page?.map((h) => `${h.orgId}/${h.detectionId}`);
  it("orders as ClickHouse does: last_seen newest first, then id descending in UTF-8 bytes, in [since, until), after a cursor's key", () => {
    const heads = [v('org-a', 'b', 1, 10), v('org-a', 'a', 1, 10), v('org-a', 'c', 2, 5), v('org-b', 'b', 4, 7), v('org-a', 'z', 1, 20), v('org-a', 'y', 1, 1)];
    expect(names(pickHeads(all(heads), { since: 5, until: 20 }, 10, true))).toEqual(['org-a/b', 'org-a/a', 'org-a/c']);
    // Without one row per id (the organizations' list), the same id in two organizations is listed twice.
    expect(names(pickHeads(all(heads), { since: 5, until: 20 }, 10, false))).toEqual(['org-a/b', 'org-a/a', 'org-b/b', 'org-a/c']);
    expect(pickHeads(all(heads), {}, 2, true)?.map((h) => h.detectionId)).toEqual(['z', 'b']);
    expect(pickHeads(all(heads), { since: 8 }, 10, true)?.map((h) => h.detectionId)).toEqual(['z', 'b', 'a']);
    // A cursor at (10, 'b'): the rows after it in this order, ties on last_seen by id.
    expect(names(pickHeads(all(heads), { after: { lastSeen: 10, detectionId: 'b' } }, 3, false))).toEqual(['org-a/a', 'org-b/b', 'org-a/c']);
    // U+FF5E sorts before U+1F600 in UTF-8 (EF BD.. < F0 9F..), after it in UTF-16 code units.
    expect(compareUtf8('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect('\uff5e' < '\u{1f600}').toBe(false);
    expect(compareUtf8('a', 'b')).toBe(-1);
    expect(compareUtf8('b', 'b')).toBe(0);
  });

  it('decides a page only from heads above the floor, or a window that stops above it', () => {
    const held: HeldHeads = { heads: [v('org-a', 'a', 1, 10), v('org-a', 'b', 1, 8)], floor: 5 };
    expect(names(pickHeads(held, {}, 2, false))).toEqual(['org-a/a', 'org-a/b']);
    expect(pickHeads(held, {}, 3, false)).toBeUndefined();
    expect(pickHeads(held, { since: 5 }, 3, false)).toBeUndefined();
    expect(names(pickHeads(held, { since: 6 }, 3, false))).toEqual(['org-a/a', 'org-a/b']);
    expect(pickHeads(held, { after: { lastSeen: 10, detectionId: 'a' } }, 2, false)).toBeUndefined();
    expect(names(pickHeads(held, { until: 9 }, 1, false))).toEqual(['org-a/b']);
  });
});
