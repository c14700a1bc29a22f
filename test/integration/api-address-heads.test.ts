import { createRegistry, type Registry } from '@mamori/metrics';
import { insertDetections, toDetectionRow, type DetectionRow } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../harness/topics.ts';
import { createFixture, key, type Fixture, type KeyId } from './api-fixture.ts';

// The entity page's detections picked from the address's cached heads (embedded chDB, where every
// insert passes through the process): the same list as an API without the cache, through a miss,
// hits, new detections and new versions about the address, detections about other addresses and
// organizations, ties, the page's window and its limit. Real chDB, inserts through the repository.
const MIN = 60_000;
let fx: Fixture;

async function api(extra: Record<string, string> = {}): Promise<{ app: FastifyInstance; registry: Registry }> {
  const registry = createRegistry();
  return { app: await fx.build(extra, registry), registry };
}

/** The detections part of an entity page: each detection's id, version, last_seen, state, and the count considered. */
async function detections(app: FastifyInstance, ip: string, who: KeyId = 'analyst-a'): Promise<unknown> {
  const res = await app.inject({ url: `/v1/entities/${ip}`, headers: key(who) });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  return { detections: body.detections, considered: body.risk.detections_considered };
}

let sequence = 0;
function detection(orgId: string, over: Partial<DetectionRow> & { srcIp: string }): DetectionRow {
  const now = Date.now();
  return toDetectionRow({
    detectionId: `det-heads-${sequence++}`,
    orgId,
    ruleId: 'mamori.network.port_scan',
    title: `Port scan from ${over.srcIp}`,
    severity: 'medium',
    entityType: 'ip',
    entityValue: over.srcIp,
    firstSeen: now - 60 * MIN,
    lastSeen: now - 30 * MIN,
    detectedAt: now - 29 * MIN,
    count: 3,
    version: 1,
    ...over,
  });
}

const lookups = async (registry: Registry, result: string) =>
  metricValue(await registry.getMetricsAsJSON(), 'mamori_api_address_heads_cache_lookups_total', { result });

beforeAll(async () => {
  fx = await createFixture('mamori_api_address_heads');
}, 120_000);

afterAll(async () => {
  await fx?.close();
});

describe('address heads cache', () => {
  it('lists an address the way an API without it does, through new detections, versions and other addresses', { timeout: 60_000 }, async () => {
    const cached = await api();
    const plain = await api({ API_ENTITY_CACHE_MB: '0' });
    const ip = '10.8.0.1';
    const now = Date.now();
    const scan = detection('org-a', { srcIp: ip, lastSeen: now - 40 * MIN });
    // About the address as its entity, from another source; two with the same last_seen (id order).
    const asEntity = detection('org-a', { srcIp: '10.8.9.9', entityValue: ip, lastSeen: now - 20 * MIN });
    const tieA = detection('org-a', { srcIp: ip, lastSeen: now - 10 * MIN });
    const tieB = detection('org-a', { srcIp: ip, lastSeen: now - 10 * MIN });
    const otherOrg = detection('org-b', { srcIp: ip, lastSeen: now - 5 * MIN });
    const old = detection('org-a', { srcIp: ip, firstSeen: now - 12 * 86_400_000, lastSeen: now - 11 * 86_400_000 });
    await insertDetections(fx.storage, [scan, asEntity, tieA, tieB, otherOrg, old]);

    const first = await detections(cached.app, ip);
    expect(first).toEqual(await detections(plain.app, ip));
    expect((first as { detections: { id: string }[] }).detections.map((d) => d.id)).toEqual([
      ...[tieA.detectionId, tieB.detectionId].sort().reverse(),
      asEntity.detectionId,
      scan.detectionId,
    ]);
    expect(await detections(cached.app, ip, 'analyst-b')).toEqual(await detections(plain.app, ip, 'analyst-b'));
    expect(await detections(cached.app, ip, 'admin')).toEqual(await detections(plain.app, ip, 'admin'));
    expect(await lookups(cached.registry, 'miss')).toBe(3);
    expect(await detections(cached.app, ip)).toEqual(first);
    expect(await lookups(cached.registry, 'hit')).toBe(1);

    // A new version moves the scan to the top; a new detection about the address; one about another.
    await insertDetections(fx.storage, [
      { ...scan, version: 2, lastSeen: now - MIN, count: 9 },
      detection('org-a', { srcIp: ip, lastSeen: now - 2 * MIN }),
      detection('org-a', { srcIp: '10.8.0.2', lastSeen: now - MIN }),
    ]);
    const later = await detections(cached.app, ip);
    expect(later).toEqual(await detections(plain.app, ip));
    expect((later as { detections: { id: string; count: number }[] }).detections[0]).toMatchObject({ id: scan.detectionId, count: 9 });
    expect(await lookups(cached.registry, 'refresh')).toBe(1);
    expect(await detections(cached.app, ip, 'admin')).toEqual(await detections(plain.app, ip, 'admin'));
    expect(await lookups(cached.registry, 'refresh')).toBe(2);
  });

  it('keeps to the page limit as the list does', { timeout: 60_000 }, async () => {
    const cached = await api();
    const plain = await api({ API_ENTITY_CACHE_MB: '0' });
    const ip = '10.8.1.1';
    const now = Date.now();
    await insertDetections(
      fx.storage,
      Array.from({ length: 130 }, (_, i) => detection('org-a', { srcIp: ip, lastSeen: now - (i % 40) * MIN - 1000 })),
    );
    const page = await detections(cached.app, ip);
    expect(page).toEqual(await detections(plain.app, ip));
    expect((page as { considered: number }).considered).toBe(100);
  });
});
