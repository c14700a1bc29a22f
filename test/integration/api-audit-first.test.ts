import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { listAudit, listDecisions, type StorageDriver } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, key, type Fixture } from './api-fixture.ts';

// No triage change or decision is stored without its audit entry: ClickHouse has no transaction over
// two tables, so the entry is written first, and a change that then fails gets a `.failed` entry.
// Faults are injected into the real embedded ClickHouse's inserts, one table at a time.
let fx: Fixture;
let app: FastifyInstance;
let failing: string | undefined;
const APPROVER = 'approver-a-secret-0123456789';

beforeAll(async () => {
  fx = await createFixture('mamori_api_audit_first');
  const faulty = Object.create(fx.storage) as StorageDriver;
  faulty.insert = async (table, rows, options) => {
    if (table === failing) throw new Error(`injected fault: ClickHouse refused the insert into ${table}`);
    return fx.storage.insert(table, rows, options);
  };
  const env = { ...fx.env, MAMORI_API_KEYS: `${fx.env['MAMORI_API_KEYS']};approver-a:${hashSecret(APPROVER)}:approver:org-a` };
  app = await buildQueryApi(loadQueryApiConfig(env), { storage: faulty, logger: silentLogger(), registry: createRegistry() });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await fx?.close();
});

const approver = { authorization: `Bearer approver-a.${APPROVER}` };

async function stateOf(id: string): Promise<{ status: string; version: number }> {
  const res = await app.inject({ url: `/v1/detections/${id}`, headers: key('viewer-a') });
  expect(res.statusCode, res.body).toBe(200);
  return { status: res.json().status, version: res.json().triage_version };
}

describe('triage', () => {
  it('stores no change when its audit entry cannot be written', async () => {
    failing = 'audit_log';
    const res = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'acknowledged', note: 'looking' } });
    failing = undefined;
    expect(res.statusCode).toBe(500);
    expect(await stateOf('det-a-scan')).toMatchObject({ status: 'new', version: 0 });
    expect(await listAudit(fx.storage, ['org-a'], { targetType: 'detection', targetId: 'det-a-scan' })).toEqual([]);
  });

  it('records that an audited change did not take effect when its state row cannot be written', async () => {
    failing = 'detection_state';
    const res = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'false_positive', note: 'lab scanner' } });
    failing = undefined;
    expect(res.statusCode).toBe(500);
    expect(await stateOf('det-a-scan')).toMatchObject({ status: 'new', version: 0 });
    const entries = (await listAudit(fx.storage, ['org-a'], { targetType: 'detection', targetId: 'det-a-scan' })).reverse();
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['detection.triaged', 'key:analyst-a'],
      ['detection.triaged.failed', 'key:analyst-a'],
    ]);
    expect(JSON.parse(entries[0]!.afterJson)).toMatchObject({ status: 'false_positive', version: 1 });
    expect(entries[1]!.afterJson).toBe(entries[0]!.afterJson);
    expect(entries[1]!.reason).toMatch(/^did not take effect: .*detection_state/);
  });

  it('writes the entry and then the change when both succeed', async () => {
    const res = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'in_progress', note: 'taking it' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await stateOf('det-a-scan')).toMatchObject({ status: 'in_progress', version: 1 });
    const entries = (await listAudit(fx.storage, ['org-a'], { targetType: 'detection', targetId: 'det-a-scan' })).reverse();
    expect(entries.map((e) => e.action)).toEqual(['detection.triaged', 'detection.triaged.failed', 'detection.triaged']);
    expect(JSON.parse(entries[2]!.afterJson)).toMatchObject({ status: 'in_progress', version: 1 });
    expect(JSON.parse(entries[2]!.beforeJson)).toMatchObject({ status: 'new', version: 0 });
  });
});

describe('decisions', () => {
  const propose = (value: string) =>
    app.inject({ method: 'POST', url: '/v1/decisions', headers: key('analyst-a'), payload: { indicator: { type: 'ipv4', value }, action: 'block', justification: 'C2 seen in det-a-scan' } });
  const decisionsOn = (value: string) => listDecisions(fx.storage, ['org-a'], { indicatorType: 'ipv4', indicatorValue: value, limit: 10 });
  const decisionAudit = async () => (await listAudit(fx.storage, ['org-a'], { targetType: 'decision', limit: 1000 })).reverse();

  it('stores no decision when its audit entry cannot be written', async () => {
    failing = 'audit_log';
    const res = await propose('45.33.60.1');
    failing = undefined;
    expect(res.statusCode).toBe(500);
    expect(await decisionsOn('45.33.60.1')).toEqual([]);
  });

  it('records a creation that did not take effect', async () => {
    const before = (await decisionAudit()).length;
    failing = 'decision_versions';
    const res = await propose('45.33.60.2');
    failing = undefined;
    expect(res.statusCode).toBe(500);
    expect(await decisionsOn('45.33.60.2')).toEqual([]);
    const added = (await decisionAudit()).slice(before);
    expect(added.map((e) => e.action)).toEqual(['decision.create', 'decision.create.failed']);
    expect(added[1]!.targetId).toBe(added[0]!.targetId);
    expect(JSON.parse(added[0]!.afterJson)).toMatchObject({ indicator: { value: '45.33.60.2' }, status: 'proposed' });
    expect(added[1]!.reason).toMatch(/^did not take effect: /);
  });

  it('leaves a decision proposed, with the approval and its failure in the trail, when the approval cannot be written', async () => {
    const created = await propose('45.33.60.3');
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    failing = 'decision_versions';
    const res = await app.inject({ method: 'POST', url: `/v1/decisions/${id}/approve`, headers: approver, payload: { reason: 'confirmed' } });
    failing = undefined;
    expect(res.statusCode).toBe(500);
    const full = (await app.inject({ url: `/v1/decisions/${id}`, headers: key('viewer-a') })).json();
    expect(full).toMatchObject({ status: 'proposed', version: 1 });
    expect(full.audit.map((e: { action: string }) => e.action)).toEqual(['decision.create', 'decision.approve', 'decision.approve.failed']);
    // A later approval that succeeds follows them.
    const ok = await app.inject({ method: 'POST', url: `/v1/decisions/${id}/approve`, headers: approver, payload: { reason: 'confirmed' } });
    expect(ok.statusCode, ok.body).toBe(200);
    const after = (await app.inject({ url: `/v1/decisions/${id}`, headers: key('viewer-a') })).json();
    expect(after).toMatchObject({ status: 'active', version: 2 });
    expect(after.audit.map((e: { action: string }) => e.action)).toEqual(['decision.create', 'decision.approve', 'decision.approve.failed', 'decision.approve']);
  });
});
