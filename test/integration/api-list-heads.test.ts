import { createRegistry, type Registry } from '@mamori/metrics';
import { insertDetections, toDetectionRow, type DetectionRow } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../harness/topics.ts';
import { createFixture, key, type Fixture, type KeyId } from './api-fixture.ts';

// The detection list's pages picked from the organizations' cached newest heads (embedded chDB,
// where every insert passes through the process): the same pages as an API without the cache,
// through a miss, hits, new detections, new versions that move a detection up or down, other
// organizations, ties, the window, filters, cursor pages and pages that reach below the heads held.
// Real chDB, inserts through the repository.
const MIN = 60_000;
let fx: Fixture;

async function api(extra: Record<string, string> = {}): Promise<{ app: FastifyInstance; registry: Registry }> {
  const registry = createRegistry();
  return { app: await fx.build({ API_MAX_PAGE_SIZE: '1000', ...extra }, registry), registry };
}

interface Page {
  rows: string[];
  next: string | null;
}

/** A list page: each detection's organization, id, last_seen, count (which tells versions apart here) and status; and the next cursor. */
async function list(app: FastifyInstance, query = '', who: KeyId = 'analyst-a'): Promise<Page> {
  const res = await app.inject({ url: `/v1/detections${query}`, headers: key(who) });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { detections: { id: string; org_id: string; last_seen: string; count: number; status: string }[]; next_cursor: string | null };
  return { rows: body.detections.map((d) => `${d.org_id}/${d.id} ${d.last_seen} x${d.count} ${d.status}`), next: body.next_cursor };
}

/** Every page of a list, following its cursors. */
async function allPages(app: FastifyInstance, query: string, who: KeyId = 'analyst-a'): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = await list(app, `${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, who);
    pages.push(page);
    cursor = page.next;
  } while (cursor !== null && pages.length < 20);
  return pages;
}

let sequence = 0;
function detection(orgId: string, over: Partial<DetectionRow> = {}): DetectionRow {
  const now = Date.now();
  const lastSeen = over.lastSeen ?? now - 30 * MIN;
  return toDetectionRow({
    detectionId: `det-list-${String(sequence++).padStart(5, '0')}`,
    orgId,
    ruleId: 'mamori.network.port_scan',
    title: 'Port scan',
    severity: 'medium',
    entityType: 'ip',
    entityValue: '10.7.0.1',
    srcIp: '10.7.0.1',
    firstSeen: lastSeen - 30 * MIN,
    lastSeen,
    detectedAt: lastSeen + MIN,
    count: 3,
    version: 1,
    ...over,
  });
}

const lookups = async (registry: Registry, result: string) =>
  metricValue(await registry.getMetricsAsJSON(), 'mamori_api_list_heads_cache_lookups_total', { result });

beforeAll(async () => {
  fx = await createFixture('mamori_api_list_heads');
}, 120_000);

afterAll(async () => {
  await fx?.close();
});

describe('list heads cache', () => {
  it('lists the way an API without it does, through new detections and versions that move up or down', { timeout: 60_000 }, async () => {
    const cached = await api();
    const plain = await api({ API_LIST_HEADS_CACHE_MB: '0' });
    const now = Date.now();
    const early = detection('org-a', { lastSeen: now - 50 * MIN });
    const top = detection('org-a', { lastSeen: now - 3 * MIN });
    const tieA = detection('org-a', { lastSeen: now - 10 * MIN });
    const tieB = detection('org-a', { lastSeen: now - 10 * MIN });
    const otherOrg = detection('org-b', { lastSeen: now - 4 * MIN });
    const old = detection('org-a', { firstSeen: now - 12 * 86_400_000, lastSeen: now - 11 * 86_400_000 });
    await insertDetections(fx.storage, [early, top, tieA, tieB, otherOrg, old]);

    const first = await list(cached.app);
    expect(first).toEqual(await list(plain.app));
    expect(first.rows.slice(0, 3).map((r) => r.split(' ')[0])).toEqual([`org-a/${top.detectionId}`, ...[tieA.detectionId, tieB.detectionId].sort().reverse().map((id) => `org-a/${id}`)]);
    expect(first.rows.some((r) => r.includes(old.detectionId))).toBe(false);
    expect(await list(cached.app, '', 'analyst-b')).toEqual(await list(plain.app, '', 'analyst-b'));
    expect(await list(cached.app, '', 'admin')).toEqual(await list(plain.app, '', 'admin'));
    expect(await lookups(cached.registry, 'miss')).toBe(3);
    expect(await list(cached.app)).toEqual(first);
    expect(await lookups(cached.registry, 'hit')).toBe(1);

    // A new version moves the early one to the top, another moves the top one down (the storage does
    // not assume versions only move forward); a new detection; another organization's.
    await insertDetections(fx.storage, [
      { ...early, version: 2, lastSeen: now - MIN, count: 9 },
      { ...top, version: 2, lastSeen: now - 45 * MIN, count: 4 },
      detection('org-a', { lastSeen: now - 2 * MIN }),
      detection('org-b', { lastSeen: now - MIN }),
    ]);
    const later = await list(cached.app);
    expect(later).toEqual(await list(plain.app));
    expect(later.rows[0]).toMatch(new RegExp(`^org-a/${early.detectionId} .* x9 `));
    expect(later.rows.findIndex((r) => r.includes(top.detectionId))).toBeGreaterThan(2);
    expect(await lookups(cached.registry, 'refresh')).toBe(1);
    expect(await list(cached.app, '', 'admin')).toEqual(await list(plain.app, '', 'admin'));
    expect(await list(cached.app, '', 'analyst-b')).toEqual(await list(plain.app, '', 'analyst-b'));
    expect(await lookups(cached.registry, 'refresh')).toBe(3);

    // A window, a small page with its cursor pages: from the heads; a filter: in ClickHouse.
    const windowed = `?since=${new Date(now - 40 * MIN).toISOString()}&until=${new Date(now - 2 * MIN).toISOString()}`;
    expect(await list(cached.app, windowed)).toEqual(await list(plain.app, windowed));
    expect(await allPages(cached.app, '?limit=2')).toEqual(await allPages(plain.app, '?limit=2'));
    const hits = await lookups(cached.registry, 'hit');
    expect(hits).toBeGreaterThan(3);
    expect(await list(cached.app, '?min_severity=high')).toEqual(await list(plain.app, '?min_severity=high'));
    expect(await list(cached.app, '?sort=first_seen')).toEqual(await list(plain.app, '?sort=first_seen'));
    expect(await lookups(cached.registry, 'hit')).toBe(hits);
  });

  it('holds the newest 2,000 heads of a scope and picks deeper pages in ClickHouse', { timeout: 120_000 }, async () => {
    const cached = await api();
    const plain = await api({ API_LIST_HEADS_CACHE_MB: '0' });
    const now = Date.now();
    // org-c: 2,300 detections over the last 3 days, many sharing a last_seen (whole minutes).
    await insertDetections(
      fx.storage,
      Array.from({ length: 2_300 }, (_, i) => detection('org-c', { lastSeen: now - 5 * MIN - (i % 1_900) * 2 * MIN })),
    );
    const pages = await allPages(cached.app, '?limit=500', 'admin');
    expect(pages).toEqual(await allPages(plain.app, '?limit=500', 'admin'));
    expect(pages.length).toBeGreaterThanOrEqual(5);
    // The first pages come from the heads; the page that reaches past the 2,000th newest does not.
    expect(await lookups(cached.registry, 'hit')).toBeGreaterThanOrEqual(3);
    expect(await lookups(cached.registry, 'fallback')).toBeGreaterThanOrEqual(1);
    // Inserts after the fill keep the pages the same as the statement's.
    await insertDetections(fx.storage, [detection('org-c', { lastSeen: now - MIN }), detection('org-c', { lastSeen: now - 3_000 * MIN })]);
    expect(await allPages(cached.app, '?limit=500', 'admin')).toEqual(await allPages(plain.app, '?limit=500', 'admin'));
    expect(await lookups(cached.registry, 'refresh')).toBe(1);
  });
});
