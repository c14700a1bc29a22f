import { createRegistry, type Registry } from '@mamori/metrics';
import { insertEvents, toEventRow, type StorageDriver } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../harness/topics.ts';
import { createFixture, key, type Fixture } from './api-fixture.ts';

// The entity page's cache of settled hours (embedded chDB, where every insert passes through the
// process): the same page as an API without it, through hits, live hours, late rows and top lists
// the cached candidates cannot decide. Real chDB, real inserts through the writer's repository.
const HOUR = 3_600_000;
let fx: Fixture;
let sequence = 0;

async function api(storage: StorageDriver, extra: Record<string, string> = {}): Promise<{ app: FastifyInstance; registry: Registry }> {
  const registry = createRegistry();
  return { app: await fx.build(extra, registry, storage), registry };
}

/**
 * What the page shows from the roll-ups. `last_seen` is the end of the last hour seen, or the time
 * of the request while that hour lasts: compared by its hour.
 */
async function rollups(app: FastifyInstance, ip: string, query = ''): Promise<Record<string, unknown>> {
  const res = await app.inject({ url: `/v1/entities/${ip}${query}`, headers: key('analyst-a') });
  expect(res.statusCode, res.body).toBe(200);
  const { timeline, top_peers, top_ports, first_seen, last_seen } = res.json();
  return { timeline, top_peers, top_ports, first_seen, last_seen_hour: Math.floor(Date.parse(last_seen) / HOUR) };
}

/** Flows of `src` to each peer (`[peer, connections, hoursAgo]`), through the writer's insert path. */
async function flows(src: string, rows: [string, number, number][], port = 443): Promise<void> {
  const now = Date.now();
  const events = [];
  for (const [dst, connections, hoursAgo] of rows) {
    for (let i = 0; i < connections; i++) {
      events.push(
        toEventRow({
          eventId: `ev-cache-${sequence++}`,
          orgId: 'org-a',
          sensorId: 'sensor-a1',
          sourceFormat: 'zeek-conn',
          eventClass: 'flow',
          time: now - hoursAgo * HOUR + i,
          srcIp: src,
          dstIp: dst,
          dstPort: port + (i % 3),
          protocol: 'tcp',
          bytesOut: 100 + i,
          bytesIn: 10,
        }),
      );
    }
  }
  await insertEvents(fx.storage, events);
}

/** Waits out the last seconds of an hour: the cache's keys and settled hours move on the hour. */
async function awayFromHourEdge(): Promise<void> {
  const left = HOUR - (Date.now() % HOUR);
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

const counter = async (registry: Registry, name: string, labels: Record<string, string> = {}) => metricValue(await registry.getMetricsAsJSON(), name, labels);

beforeAll(async () => {
  fx = await createFixture('mamori_api_entity_cache');
}, 120_000);

afterAll(async () => {
  await fx?.close();
});

describe('entity cache', () => {
  it('answers as an API without it does: on a miss, on hits with new live rows, and after late rows', { timeout: 60_000 }, async () => {
    await awayFromHourEdge();
    const cached = await api(fx.storage);
    const plain = await api(fx.storage, { API_ENTITY_CACHE_MB: '0' });
    const ip = '10.7.0.1';
    await flows(ip, [
      ['192.0.2.10', 30, 40],
      ['192.0.2.11', 20, 30],
      ['192.0.2.12', 12, 5],
      ['192.0.2.13', 3, 1],
      ['2001:db8::1', 12, 4],
    ]);
    const first = await rollups(cached.app, ip);
    expect(first).toEqual(await rollups(plain.app, ip));
    expect((first['timeline'] as unknown[]).length).toBe(5);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'miss' })).toBe(1);

    expect(await rollups(cached.app, ip)).toEqual(first);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'hit' })).toBe(1);

    // New rows for the live hours (the current one and the last unsettled one): a new busiest peer.
    await flows(ip, [
      ['192.0.2.14', 45, 0],
      ['192.0.2.12', 2, 1.5],
    ]);
    const live = await rollups(cached.app, ip);
    expect(live).toEqual(await rollups(plain.app, ip));
    expect((live['top_peers'] as { ip: string }[])[0]).toMatchObject({ ip: '192.0.2.14', connections: 45 });
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'hit' })).toBe(2);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_invalidations_total')).toBe(0);

    // A late row for a settled hour drops the entry; the next page reads the settled hours again.
    await flows(ip, [['192.0.2.11', 40, 20]]);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_invalidations_total')).toBe(1);
    const late = await rollups(cached.app, ip);
    expect(late).toEqual(await rollups(plain.app, ip));
    expect((late['top_peers'] as { ip: string }[])[0]).toMatchObject({ ip: '192.0.2.11', connections: 60 });
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'miss' })).toBe(2);
  });

  it('keeps first and last seen all time when the page ends before the newest activity', { timeout: 60_000 }, async () => {
    await awayFromHourEdge();
    const cached = await api(fx.storage);
    const plain = await api(fx.storage, { API_ENTITY_CACHE_MB: '0' });
    const ip = '10.7.0.3';
    const thisHour = Math.floor(Date.now() / HOUR) * HOUR;
    // A page up to the end of the last hour: still past the settled hours, so the cache serves it.
    const query = `?until=${encodeURIComponent(new Date(thisHour - 1).toISOString())}`;
    await flows(ip, [
      ['192.0.2.20', 5, 30],
      ['192.0.2.21', 4, 3],
    ]);
    expect(await rollups(cached.app, ip, query)).toEqual(await rollups(plain.app, ip, query));
    // Activity after the page's end: not in its timeline, but the address was seen later than before.
    await flows(ip, [['192.0.2.22', 2, 0]]);
    const page = await rollups(cached.app, ip, query);
    expect(page).toEqual(await rollups(plain.app, ip, query));
    expect(page['last_seen_hour']).toBe(thisHour / HOUR);
    expect((page['timeline'] as { hour: string }[]).every((h) => Date.parse(h.hour) < thisHour)).toBe(true);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'hit' })).toBe(1);
  });

  it('reads the whole range when the live hours could reorder the list past the cached candidates', { timeout: 60_000 }, async () => {
    await awayFromHourEdge();
    const cached = await api(fx.storage);
    const plain = await api(fx.storage, { API_ENTITY_CACHE_MB: '0' });
    const ip = '10.7.0.2';
    // 600 peers with one connection each in settled hours: more than the 300 candidates kept, all tied.
    const many: [string, number, number][] = [];
    for (let i = 0; i < 600; i++) many.push([`198.51.${100 + Math.floor(i / 250)}.${i % 250}`, 1, 10 + (i % 5)]);
    await flows(ip, many, 8000);
    await rollups(cached.app, ip);
    await flows(ip, [['198.51.102.99', 1, 0]], 8000);
    const page = await rollups(cached.app, ip);
    expect(page).toEqual(await rollups(plain.app, ip));
    expect((page['top_peers'] as { ip: string }[])[0]).toMatchObject({ ip: '198.51.102.99', connections: 2 });
    expect(await counter(cached.registry, 'mamori_api_entity_cache_fallbacks_total')).toBeGreaterThanOrEqual(1);
    expect(await counter(cached.registry, 'mamori_api_entity_cache_lookups_total', { result: 'hit' })).toBe(1);
  });

  it('is off with API_ENTITY_CACHE_MB=0 and without the driver hook a ClickHouse server lacks', async () => {
    const server = Object.create(fx.storage) as StorageDriver;
    Object.defineProperty(server, 'onInsert', { value: undefined });
    for (const { app, registry } of [await api(fx.storage, { API_ENTITY_CACHE_MB: '0' }), await api(server)]) {
      await rollups(app, '10.7.0.1');
      expect((await registry.getMetricsAsJSON()).some((m) => m.name.startsWith('mamori_api_entity_cache'))).toBe(false);
    }
  });
});
