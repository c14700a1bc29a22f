import { insertEvents, toEventRow } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, key, type Fixture } from './api-fixture.ts';

// The dashboard (GET /v1/stats) and the entity page answer from the hourly roll-ups, never from raw
// events: with the `events` table emptied they still show the same figures.
let fx: Fixture;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await createFixture('mamori_api_stats_rollup');
  app = await fx.build();
});
afterAll(async () => fx?.close());

const stats = async () => {
  const res = await app.inject({ url: '/v1/stats', headers: key('viewer-a') });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { ingest: { org_id: string; sensor_id: string; events: number; events_per_second: number; hourly: { hour: string; events: number }[] }[]; top_entities: unknown[] };
};
const bySensor = (s: Awaited<ReturnType<typeof stats>>) => s.ingest.map((i) => [i.org_id, i.sensor_id, i.events]).sort();

describe('GET /v1/stats ingest per sensor', () => {
  it('counts events by hour of ingestion from the roll-up, and still does with the raw events gone', async () => {
    // An archived event replayed now: ingested in this hour, however old the event itself is.
    const now = Date.now();
    await insertEvents(fx.storage, [toEventRow({ eventId: 'ev-import-0', orgId: 'org-a', sensorId: 'sensor-import', eventClass: 'flow', time: now - 400 * 86_400_000, ingestTime: now, srcIp: '10.0.0.7', dstIp: '192.0.2.9' })]);
    const before = await stats();
    expect(bySensor(before)).toEqual([
      ['org-a', 'sensor-a1', 30],
      ['org-a', 'sensor-a2', 30],
      ['org-a', 'sensor-import', 1],
    ]);
    const hours = before.ingest.find((i) => i.sensor_id === 'sensor-import')!.hourly;
    expect(hours).toEqual([{ hour: new Date(Math.floor(now / 3_600_000) * 3_600_000).toISOString(), events: 1 }]);
    const entity = (await app.inject({ url: '/v1/entities/10.0.0.5', headers: key('viewer-a') })).json();

    await fx.storage.exec('TRUNCATE TABLE mamori_api_stats_rollup.events');
    expect((await app.inject({ url: '/v1/events?ip=10.0.0.5', headers: key('viewer-a') })).json().events).toEqual([]);

    const after = await stats();
    expect(bySensor(after)).toEqual(bySensor(before));
    expect(after.top_entities).toEqual(before.top_entities);
    const entityAfter = (await app.inject({ url: '/v1/entities/10.0.0.5', headers: key('viewer-a') })).json();
    expect([entityAfter.timeline, entityAfter.top_peers, entityAfter.top_ports]).toEqual([entity.timeline, entity.top_peers, entity.top_ports]);
    // Another organization's sensors are not in org-a's figures.
    expect(after.ingest.every((i) => i.org_id === 'org-a')).toBe(true);
  });
});
