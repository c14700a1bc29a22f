import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { insertDetections, migrate, toDetectionRow, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The API against the real embedded ClickHouse: auth, organization scoping, validation, paging.
const dir = mkdtempSync(join(tmpdir(), 'mamori-api-'));
const secrets = { viewerA: 'viewer-a-secret-0123456789', adminAll: 'admin-all-secret-0123456789', viewerB: 'viewer-b-secret-0123456789' };
const env = {
  MAMORI_API_KEYS: [
    `viewer-a:${hashSecret(secrets.viewerA)}:viewer:org-a`,
    `viewer-b:${hashSecret(secrets.viewerB)}:viewer:org-b`,
    `admin:${hashSecret(secrets.adminAll)}:admin:*`,
  ].join(';'),
  API_MAX_PAGE_SIZE: '50',
};
const auth = (who: keyof typeof secrets) => ({ authorization: `Bearer ${who === 'viewerA' ? 'viewer-a' : who === 'viewerB' ? 'viewer-b' : 'admin'}.${secrets[who]}` });
const NOW = Date.now();

let storage: StorageDriver;
let app: FastifyInstance;

beforeAll(async () => {
  storage = createChdbStorage({ path: dir, database: 'mamori_api_test' });
  await storage.connect();
  await migrate(storage, { database: 'mamori_api_test' });
  const rows = [];
  for (let i = 0; i < 30; i++) {
    rows.push(
      toDetectionRow({
        detectionId: `det-a-${String(i).padStart(2, '0')}`,
        orgId: 'org-a',
        ruleId: i % 2 === 0 ? 'mamori.network.port_scan' : 'sigma.other',
        severity: i % 3 === 0 ? 'high' : 'low',
        title: `finding ${i}`,
        entityType: 'ip',
        entityValue: `10.0.0.${i}`,
        srcIp: `10.0.0.${i}`,
        firstSeen: NOW - 3_600_000 + i * 1000,
        lastSeen: NOW - 3_000_000 + i * 1000,
        detectedAt: NOW,
        count: i + 1,
        version: 1,
      }),
    );
  }
  rows.push(toDetectionRow({ detectionId: 'det-b-1', orgId: 'org-b', ruleId: 'mamori.network.port_scan', severity: 'critical', firstSeen: NOW - 1000, lastSeen: NOW - 500, entityType: 'ip', entityValue: '192.0.2.1', srcIp: '192.0.2.1', version: 1 }));
  await insertDetections(storage, rows);
  app = await buildQueryApi(loadQueryApiConfig(env), { storage, logger: silentLogger(), registry: createRegistry() });
});

afterAll(async () => {
  await app?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/detections', () => {
  it('refuses a missing, malformed or forged token', async () => {
    expect((await app.inject({ url: '/v1/detections' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/detections', headers: { authorization: 'Bearer nonsense' } })).statusCode).toBe(401);
    const forged = await app.inject({ url: '/v1/detections', headers: { authorization: `Bearer admin.${secrets.viewerA}` } });
    expect(forged.statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/detections', headers: { authorization: `Bearer ghost.${secrets.adminAll}` } })).statusCode).toBe(401);
  });

  it('shows a viewer only its own organization', async () => {
    const a = (await app.inject({ url: '/v1/detections?limit=50', headers: auth('viewerA') })).json();
    expect(a.detections).toHaveLength(30);
    expect(a.detections.every((d: { org_id: string }) => d.org_id === 'org-a')).toBe(true);
    const b = (await app.inject({ url: '/v1/detections', headers: auth('viewerB') })).json();
    expect(b.detections.map((d: { id: string }) => d.id)).toEqual(['det-b-1']);
    const all = (await app.inject({ url: '/v1/detections?limit=50', headers: auth('adminAll') })).json();
    expect(all.detections).toHaveLength(31);
    // Another organization's detection is a 404, not a 403: existence does not leak.
    expect((await app.inject({ url: '/v1/detections/det-b-1', headers: auth('viewerA') })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/detections/det-b-1', headers: auth('viewerB') })).json().severity).toBe('critical');
  });

  it('filters by severity, rule and source, newest first, with cursor paging', async () => {
    const high = (await app.inject({ url: '/v1/detections?min_severity=high&limit=50', headers: auth('viewerA') })).json();
    expect(high.detections).toHaveLength(10);
    const rule = (await app.inject({ url: '/v1/detections?rule_id=sigma.other&limit=50', headers: auth('viewerA') })).json();
    expect(rule.detections).toHaveLength(15);
    const src = (await app.inject({ url: '/v1/detections?src_ip=10.0.0.7', headers: auth('viewerA') })).json();
    expect(src.detections.map((d: { id: string }) => d.id)).toEqual(['det-a-07']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/detections?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = (await app.inject({ url, headers: auth('viewerA') })).json();
      seen.push(...page.detections.map((d: { id: string }) => d.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(30);
    expect(seen[0]).toBe('det-a-29');
    expect(new Set(seen).size).toBe(30);
  });

  it('rejects hostile and oversized input with 400, never a query error', async () => {
    const bad = [
      `/v1/detections?src_ip=${encodeURIComponent("1.1.1.1' OR 1=1 --")}`,
      `/v1/detections?rule_id=${encodeURIComponent("x'; DROP TABLE mamori_api_test.detections; --")}`,
      '/v1/detections?min_severity=urgent',
      '/v1/detections?limit=100000',
      '/v1/detections?limit=-1',
      '/v1/detections?cursor=AAAA',
      `/v1/detections?since=${'9'.repeat(39)}`,
      '/v1/detections?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      '/v1/detections?unknown=1',
    ];
    for (const url of bad) {
      const res = await app.inject({ url, headers: auth('adminAll') });
      expect(res.statusCode, url).toBe(400);
    }
    const id = await app.inject({ url: `/v1/detections/${encodeURIComponent("' OR ''='")}`, headers: auth('adminAll') });
    expect(id.statusCode).toBe(400);
    // The table is intact.
    expect((await app.inject({ url: '/v1/detections?limit=50', headers: auth('adminAll') })).json().detections).toHaveLength(31);
  });
});
