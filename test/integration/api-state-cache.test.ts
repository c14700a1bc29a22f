import type { StorageDriver } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, key, type Fixture } from './api-fixture.ts';

// The triage state cache of an API process on embedded chDB (the only writer of triage state): the
// list reads from ClickHouse only the states it has not seen, and a PATCH shows at once. Counted
// through the real chDB driver: statements that read `detection_state_current`.
let fx: Fixture;
let stateReads = 0;

function counting(name?: string): StorageDriver {
  const driver = Object.create(fx.storage) as StorageDriver & { name: string };
  if (name !== undefined) Object.defineProperty(driver, 'name', { value: name });
  driver.query = (async (sql: string, params?: unknown, options?: unknown) => {
    if (sql.includes('detection_state_current')) stateReads++;
    return fx.storage.query(sql, params as never, options as never);
  }) as StorageDriver['query'];
  return driver;
}

async function api(storage: StorageDriver, extra: Record<string, string> = {}): Promise<FastifyInstance> {
  return fx.build(extra, undefined, storage);
}

async function list(app: FastifyInstance): Promise<Record<string, string>> {
  const res = await app.inject({ url: '/v1/detections', headers: key('analyst-a') });
  expect(res.statusCode, res.body).toBe(200);
  return Object.fromEntries(res.json().detections.map((d: { id: string; status: string }) => [d.id, d.status]));
}

beforeAll(async () => {
  fx = await createFixture('mamori_api_state_cache');
}, 120_000);

afterAll(async () => {
  await fx?.close();
});

describe('triage state cache', () => {
  it('reads the states of a page once, and shows a change made through the API at once', async () => {
    const app = await api(counting());
    stateReads = 0;
    expect(await list(app)).toMatchObject({ 'det-a-scan': 'new', 'det-a-beacon': 'new' });
    expect(stateReads).toBe(1);
    await list(app);
    expect(stateReads).toBe(1);
    const patch = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'acknowledged', note: 'mine' } });
    expect(patch.statusCode, patch.body).toBe(200);
    const reads = stateReads;
    expect(await list(app)).toMatchObject({ 'det-a-scan': 'acknowledged', 'det-a-beacon': 'new' });
    expect(stateReads).toBe(reads);
    const entity = (await app.inject({ url: '/v1/entities/10.0.0.5', headers: key('analyst-a') })).json();
    expect(entity.detections.find((d: { id: string }) => d.id === 'det-a-scan')).toMatchObject({ status: 'acknowledged', triage_version: 1 });
    // A second change, with its version, replaces the first.
    await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'false_positive', expected_version: 1 } });
    expect(await list(app)).toMatchObject({ 'det-a-scan': 'false_positive' });
  });

  it('a new process starts empty and reads what is stored', async () => {
    const app = await api(counting());
    stateReads = 0;
    expect(await list(app)).toMatchObject({ 'det-a-scan': 'false_positive' });
    expect(stateReads).toBe(1);
  });

  it('is off with API_DETECTION_CACHE_MB=0, and on a ClickHouse server, which other API processes may write', async () => {
    for (const app of [await api(counting(), { API_DETECTION_CACHE_MB: '0' }), await api(counting('clickhouse'))]) {
      stateReads = 0;
      await list(app);
      await list(app);
      expect(stateReads).toBe(2);
    }
  });
});
