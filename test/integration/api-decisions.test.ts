import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { createDecision, insertDetections, migrate, toDetectionRow, type NewDecision, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Decisions, guard rails, two-person approval, blocklists and the STIX bundle, on real embedded ClickHouse.
const WARNING_LISTS = fileURLToPath(new URL('../../../shared/data/intel/misp-warninglists/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mamori-decisions-'));
const inventoryFile = join(dir, 'inventory.yaml');
writeFileSync(
  inventoryFile,
  ['organizations:', '  - id: org-a', '    name: Org A', '  - id: org-b', 'home_networks:', '  org-a: [93.184.216.0/24, "2a00:1450:4001::/48"]', ''].join('\n'),
);

const KEYS = {
  analystA: { id: 'analyst-a', role: 'analyst', orgs: 'org-a' },
  analystA2: { id: 'analyst-a2', role: 'analyst', orgs: 'org-a' },
  approverA: { id: 'approver-a', role: 'approver', orgs: 'org-a' },
  approverA2: { id: 'approver-a2', role: 'approver', orgs: 'org-a' },
  viewerA: { id: 'viewer-a', role: 'viewer', orgs: 'org-a' },
  firewallA: { id: 'firewall-a', role: 'viewer', orgs: 'org-a' },
  analystB: { id: 'analyst-b', role: 'analyst', orgs: 'org-b' },
  approverB: { id: 'approver-b', role: 'approver', orgs: 'org-b' },
  viewerB: { id: 'viewer-b', role: 'viewer', orgs: 'org-b' },
} as const;
type Who = keyof typeof KEYS;
const secret = (who: Who) => `${KEYS[who].id}-secret-0123456789`;
const env = {
  MAMORI_API_KEYS: Object.keys(KEYS)
    .map((w) => {
      const k = KEYS[w as Who];
      return `${k.id}:${hashSecret(secret(w as Who))}:${k.role}:${k.orgs}`;
    })
    .join(';'),
  MAMORI_INVENTORY_FILE: inventoryFile,
  API_WARNING_LISTS: WARNING_LISTS,
  API_TAXII_PARTNERS: `cert-x:${hashSecret('cert-x-secret-0123456789')}:org-a`,
  API_RATE_LIMIT_PER_MINUTE: '0',
};
const auth = (who: Who) => ({ authorization: `Bearer ${KEYS[who].id}.${secret(who)}` });
const NOW = Date.now();

let storage: StorageDriver;
let app: FastifyInstance;

async function post(who: Who, url: string, payload: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, headers: auth(who), payload: payload as Record<string, unknown> });
}
const justification = 'C2 beaconing confirmed by two analysts';

beforeAll(async () => {
  storage = createChdbStorage({ path: join(dir, 'db'), database: 'mamori_decisions_test' });
  await storage.connect();
  await migrate(storage, { database: 'mamori_decisions_test' });
  await insertDetections(storage, [
    toDetectionRow({ detectionId: 'det-a-c2', orgId: 'org-a', ruleId: 'mamori.intel.match', severity: 'high', title: 'C2 contact', entityType: 'ip', entityValue: '45.33.32.156', srcIp: '45.33.32.156', firstSeen: NOW - 7_200_000, lastSeen: NOW - 3_600_000, detectedAt: NOW - 3_600_000, count: 12, version: 1 }),
    toDetectionRow({ detectionId: 'det-a-c2-2', orgId: 'org-a', ruleId: 'mamori.network.beaconing', severity: 'medium', title: 'Beaconing', entityType: 'ip', entityValue: '45.33.32.156', srcIp: '45.33.32.156', firstSeen: NOW - 1_800_000, lastSeen: NOW - 600_000, detectedAt: NOW - 600_000, count: 3, version: 1 }),
    toDetectionRow({ detectionId: 'det-b-1', orgId: 'org-b', ruleId: 'mamori.network.port_scan', severity: 'critical', title: 'scan', entityType: 'ip', entityValue: '185.220.101.5', srcIp: '185.220.101.5', firstSeen: NOW - 1000, lastSeen: NOW - 500, detectedAt: NOW, count: 1, version: 1 }),
  ]);
  app = await buildQueryApi(loadQueryApiConfig(env), { storage, logger: silentLogger(), registry: createRegistry() });
});

afterAll(async () => {
  await app?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('guard rails', () => {
  const refused: [string, { type: string; value: string }, string, string][] = [
    ['a home network address', { type: 'ipv4', value: '93.184.216.34' }, 'home_network', '93.184.216.0/24'],
    ['an IPv6 network holding a home network in its middle', { type: 'ipv6', value: '2a00:1450::/32' }, 'home_network', '2a00:1450:4001::/48'],
    ['an IPv4-mapped home network', { type: 'ipv6', value: '::ffff:5db8:d800/120' }, 'home_network', '93.184.216.0/24'],
    ['a network holding a home network', { type: 'ipv4', value: '93.184.0.0/16' }, 'home_network', ''],
    ['an IPv6 home network address', { type: 'ipv6', value: '2a00:1450:4001::1' }, 'home_network', ''],
    ['RFC 1918', { type: 'ipv4', value: '10.1.2.3' }, 'reserved_range', '10.0.0.0/8'],
    ['RFC 1918 (172.16/12)', { type: 'ipv4', value: '172.20.0.0/24' }, 'reserved_range', '172.16.0.0/12'],
    ['loopback', { type: 'ipv4', value: '127.0.0.1' }, 'reserved_range', '127.0.0.0/8'],
    ['link-local', { type: 'ipv4', value: '169.254.1.1' }, 'reserved_range', '169.254.0.0/16'],
    ['CGNAT', { type: 'ipv4', value: '100.64.1.1' }, 'reserved_range', '100.64.0.0/10'],
    ['multicast', { type: 'ipv4', value: '239.1.1.1' }, 'reserved_range', '224.0.0.0/4'],
    ['documentation', { type: 'ipv4', value: '198.51.100.7' }, 'reserved_range', '198.51.100.0/24'],
    ['IPv6 ULA', { type: 'ipv6', value: 'fd12:3456::1' }, 'reserved_range', 'fc00::/7'],
    ['IPv6 link-local', { type: 'ipv6', value: 'fe80::1' }, 'reserved_range', 'fe80::/10'],
    ['IPv6 documentation', { type: 'ipv6', value: '2001:db8::/48' }, 'reserved_range', '2001:db8::/32'],
    ['a warning-listed public resolver', { type: 'ipv4', value: '8.8.8.8' }, 'warning_list', ''],
    ['a network holding a public resolver', { type: 'ipv4', value: '1.1.1.0/24' }, 'warning_list', ''],
    ['a warning-listed resolver host name', { type: 'domain', value: 'dns.google' }, 'warning_list', ''],
    ['a top site (tranco)', { type: 'domain', value: 'google.com' }, 'warning_list', ''],
    ['a special-use domain', { type: 'domain', value: 'printer.local' }, 'reserved_domain', 'local'],
    ['a URL on a private address', { type: 'url', value: 'http://192.168.1.1/admin' }, 'reserved_range', '192.168.0.0/16'],
    ['a network too broad to block', { type: 'ipv4', value: '45.0.0.0/8' }, 'too_broad', '/8'],
  ];
  it.each(refused)('refuses to block %s with a 422 naming the rule', async (_what, indicator, rule, matched) => {
    const res = await post('analystA', '/v1/decisions', { indicator, action: 'block', justification });
    expect(res.statusCode, res.body).toBe(422);
    const body = res.json();
    expect(body.error).toBe('guard_rail');
    expect(body.rule).toBe(rule);
    if (matched) expect(body.matched).toContain(matched);
    expect(body.message).toContain(indicator.value);
  });

  it('accepts a public hostile address, proposed until approved', async () => {
    const res = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.32.157' }, action: 'block', justification });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: 'proposed', action: 'block', org_id: 'org-a', indicator: { type: 'ipv4', value: '45.33.32.157' }, requested_by: 'key:analyst-a' });
  });

  it('applies to shares too, but not to monitoring a private host', async () => {
    expect((await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '10.9.9.9' }, action: 'share', share_with: ['cert-x'], justification })).json().rule).toBe('reserved_range');
    expect((await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '10.9.9.9' }, action: 'monitor', justification })).statusCode).toBe(201);
  });

  it('validates the request', async () => {
    const bad = [
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'block' },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'block', justification: 'short' },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'block', justification: 'x'.repeat(2001) },
      { indicator: { type: 'ipv4', value: 'not-an-ip' }, action: 'block', justification },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'nuke', justification },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, detection_id: 'det-a-c2', action: 'block', justification },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'block', justification, expires_at: new Date(NOW - 1000).toISOString() },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'block', justification, expires_at: new Date(NOW + 400 * 86_400_000).toISOString() },
      { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'share', justification },
    ];
    for (const payload of bad) expect((await post('analystA', '/v1/decisions', payload)).statusCode, JSON.stringify(payload)).toBe(400);
    expect((await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.1.1.1' }, action: 'share', share_with: ['someone-else'], justification })).statusCode).toBe(422);
  });
});

describe('two-person approval', () => {
  let id: string;
  it('a viewer cannot decide, the requester cannot approve, an analyst cannot approve', async () => {
    expect((await post('viewerA', '/v1/decisions', { detection_id: 'det-a-c2', action: 'block', justification })).statusCode).toBe(403);
    const created = await post('analystA', '/v1/decisions', { detection_id: 'det-a-c2', action: 'block', justification, tlp: 'green' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ status: 'proposed', target: { kind: 'detection', detection_id: 'det-a-c2' }, indicator: { type: 'ipv4', value: '45.33.32.156' } });
    id = created.json().id;
    expect((await post('viewerA', `/v1/decisions/${id}/approve`, {})).statusCode).toBe(403);
    expect((await post('analystA2', `/v1/decisions/${id}/approve`, {})).statusCode).toBe(403);
    // Another organization's approver does not even see it.
    expect((await post('approverB', `/v1/decisions/${id}/approve`, {})).statusCode).toBe(404);
    // A second proposal for the same value is a conflict, not a duplicate.
    expect((await post('analystA2', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.32.156' }, action: 'block', justification })).statusCode).toBe(409);
  });

  it('the same user cannot approve their own proposal, even with the approver role', async () => {
    const own = await post('approverA', '/v1/decisions', { indicator: { type: 'domain', value: 'evil-c2.xyz' }, action: 'block', justification });
    expect(own.statusCode).toBe(201);
    const res = await post('approverA', `/v1/decisions/${own.json().id}/approve`, {});
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe('two_person_rule');
    // Nor reject it (and neither attempt left a trace: still proposed, version 1, one audit entry).
    const rejectOwn = await post('approverA', `/v1/decisions/${own.json().id}/reject`, { reason: 'changed my mind' });
    expect(rejectOwn.statusCode).toBe(403);
    expect(rejectOwn.json().error).toBe('two_person_rule');
    const untouched = (await app.inject({ url: `/v1/decisions/${own.json().id}`, headers: auth('viewerA') })).json();
    expect(untouched).toMatchObject({ status: 'proposed', version: 1 });
    expect(untouched.audit).toHaveLength(1);
    // No body at all is fine for an approval (the reason is optional there).
    const ok = await app.inject({ method: 'POST', url: `/v1/decisions/${own.json().id}/approve`, headers: auth('approverA2') });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'active', decided_by: 'key:approver-a2' });
  });

  it('a different approver approves; the audit log holds who, when, before, after and why', async () => {
    const res = await post('approverA', `/v1/decisions/${id}/approve`, { reason: 'matches the intel report' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('active');
    expect((await post('approverA2', `/v1/decisions/${id}/approve`, {})).statusCode).toBe(409);
    const full = (await app.inject({ url: `/v1/decisions/${id}`, headers: auth('viewerA') })).json();
    expect(full.audit.map((a: { action: string }) => a.action)).toEqual(['decision.create', 'decision.approve']);
    const [created, approved] = full.audit;
    expect(created).toMatchObject({ actor: 'key:analyst-a', reason: justification, before: null, after: { status: 'proposed' } });
    expect(approved).toMatchObject({ actor: 'key:approver-a', reason: 'matches the intel report', before: { status: 'proposed' }, after: { status: 'active' } });
    expect(Date.parse(approved.at)).toBeGreaterThanOrEqual(Date.parse(created.at));
  });

  it('a rejected proposal never reaches a blocklist', async () => {
    const p = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.32.200' }, action: 'block', justification });
    expect((await post('approverA', `/v1/decisions/${p.json().id}/reject`, {})).statusCode).toBe(400);
    expect((await post('approverA', `/v1/decisions/${p.json().id}/reject`, { reason: 'shared hosting, too much collateral' })).json().status).toBe('rejected');
    const list = await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') });
    expect(list.body).not.toContain('45.33.32.200');
  });
});

describe('blocklists', () => {
  it('hold approved, unexpired, unrevoked blocks only, as txt, csv and json', async () => {
    const txt = await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') });
    expect(txt.statusCode).toBe(200);
    expect(txt.headers['content-type']).toMatch(/^text\/plain/);
    // 45.33.32.157 is still proposed; 45.33.32.156 was approved.
    expect(txt.body).toBe('45.33.32.156\n');
    expect((await app.inject({ url: '/v1/blocklists/domain.txt', headers: auth('firewallA') })).body).toBe('evil-c2.xyz\n');
    const all = (await app.inject({ url: '/v1/blocklists/all.txt', headers: auth('firewallA') })).body.trim().split('\n');
    expect(all).toEqual(['45.33.32.156', 'evil-c2.xyz']);
    const csv = await app.inject({ url: '/v1/blocklists/ip.csv', headers: auth('firewallA') });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('value,type,org_id,decision_id,activated_at,expires_at');
    expect(lines[1]).toMatch(/^45\.33\.32\.156,ipv4,org-a,[0-9a-f-]{36},\d{4}-.*Z,\d{4}-.*Z$/);
    const json = (await app.inject({ url: '/v1/blocklists/ip.json', headers: auth('firewallA') })).json();
    expect(json).toMatchObject({ name: 'ip', count: 1, entries: [{ value: '45.33.32.156', type: 'ipv4', org_id: 'org-a', tlp: 'green' }] });
  });

  it('need a credential and a known name', async () => {
    expect((await app.inject({ url: '/v1/blocklists/ip.txt' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/blocklists/secret.txt', headers: auth('firewallA') })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/blocklists/ip.xml', headers: auth('firewallA') })).statusCode).toBe(400);
  });

  it('are cacheable: ETag and Last-Modified answer 304 until the list changes', async () => {
    const first = await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') });
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(Date.parse(lastModified)).toBeGreaterThan(0);
    expect((await app.inject({ url: '/v1/blocklists/ip.txt', headers: { ...auth('firewallA'), 'if-none-match': etag } })).statusCode).toBe(304);
    expect((await app.inject({ url: '/v1/blocklists/ip.txt', headers: { ...auth('firewallA'), 'if-modified-since': lastModified } })).statusCode).toBe(304);
    // A new approved block changes the list and its validators.
    const p = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.95.147.0/24' }, action: 'block', justification });
    expect(p.statusCode, p.body).toBe(201);
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution
    expect((await post('approverA', `/v1/decisions/${p.json().id}/approve`, {})).statusCode).toBe(200);
    const changed = await app.inject({ url: '/v1/blocklists/ip.txt', headers: { ...auth('firewallA'), 'if-none-match': etag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.body).toBe('45.33.32.156\n45.95.147.0/24\n');
    expect((await app.inject({ url: '/v1/blocklists/ip.txt', headers: { ...auth('firewallA'), 'if-modified-since': lastModified } })).statusCode).toBe(200);
  });

  it('drop a revoked block', async () => {
    const p = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.34.1' }, action: 'block', justification });
    await post('approverA', `/v1/decisions/${p.json().id}/approve`, {});
    expect((await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') })).body).toContain('45.33.34.1\n');
    expect((await post('analystA2', `/v1/decisions/${p.json().id}/revoke`, {})).statusCode).toBe(400);
    const revoked = await post('analystA2', `/v1/decisions/${p.json().id}/revoke`, { reason: 'false positive: CDN edge' });
    expect(revoked.json().status).toBe('revoked');
    expect((await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') })).body).not.toContain('45.33.34.1');
    expect((await post('analystA2', `/v1/decisions/${p.json().id}/revoke`, { reason: 'again' })).statusCode).toBe(409);
    const audit = (await app.inject({ url: `/v1/decisions/${p.json().id}`, headers: auth('viewerA') })).json().audit;
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['decision.create', 'decision.approve', 'decision.revoke']);
  });

  it('drop an expired block (an approved decision whose expiry has passed)', async () => {
    const at = Date.now() - 7_200_000;
    const expired: NewDecision = {
      id: '00000000-0000-4000-8000-00000000e001', orgId: 'org-a', action: 'block', status: 'active', targetKind: 'indicator', detectionId: '',
      indicatorType: 'ipv4', indicatorValue: '45.33.35.1', justification, tlp: 'amber', shareWith: [], requestedBy: 'key:analyst-a',
      createdAt: at, expiresAt: at + 3_600_000,
    };
    await createDecision(storage, ['org-a'], expired);
    await createDecision(storage, ['org-a'], { ...expired, id: '00000000-0000-4000-8000-00000000e002', indicatorValue: '45.33.35.2', expiresAt: Date.now() + 3_600_000 });
    const body = (await app.inject({ url: '/v1/blocklists/ip.txt', headers: auth('firewallA') })).body;
    expect(body).not.toContain('45.33.35.1');
    expect(body).toContain('45.33.35.2\n');
    const listed = (await app.inject({ url: '/v1/decisions?status=expired', headers: auth('viewerA') })).json();
    expect(listed.decisions.map((d: { id: string }) => d.id)).toEqual(['00000000-0000-4000-8000-00000000e001']);
    // A new decision on an expired value is not a conflict.
    expect((await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.35.1' }, action: 'block', justification })).statusCode).toBe(201);
  });
});

describe('organization isolation', () => {
  it('org-b never sees org-a decisions or blocklist entries', async () => {
    const b = await post('analystB', '/v1/decisions', { detection_id: 'det-b-1', action: 'block', justification });
    expect(b.statusCode).toBe(201);
    await post('approverB', `/v1/decisions/${b.json().id}/approve`, {});
    // org-a's detection is not found for org-b.
    expect((await post('analystB', '/v1/decisions', { detection_id: 'det-a-c2', action: 'monitor', justification })).statusCode).toBe(404);
    expect((await post('analystB', '/v1/decisions', { org_id: 'org-a', indicator: { type: 'ipv4', value: '45.2.2.2' }, action: 'monitor', justification })).statusCode).toBe(403);
    const listB = (await app.inject({ url: '/v1/decisions', headers: auth('viewerB') })).json().decisions;
    expect(listB.length).toBeGreaterThan(0);
    expect(listB.every((d: { org_id: string }) => d.org_id === 'org-b')).toBe(true);
    const listA = (await app.inject({ url: '/v1/decisions?limit=500', headers: auth('viewerA') })).json().decisions;
    expect(listA.every((d: { org_id: string }) => d.org_id === 'org-a')).toBe(true);
    expect((await app.inject({ url: `/v1/decisions/${b.json().id}`, headers: auth('viewerA') })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/blocklists/all.txt', headers: auth('viewerB') })).body).toBe('185.220.101.5\n');
    expect((await app.inject({ url: '/v1/blocklists/all.txt', headers: auth('firewallA') })).body).not.toContain('185.220.101.5');
    const bundleB = (await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerB') })).json();
    expect(JSON.stringify(bundleB)).not.toContain('45.33.32.156');
    expect((await app.inject({ url: '/v1/stix/bundle?org_id=org-a', headers: auth('viewerB') })).statusCode).toBe(403);
  });
});

describe('STIX 2.1 bundle', () => {
  const STIX_ID = /^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

  it('holds indicators, sightings, detections, relationships, identity and TLP markings in the examples’ shape', async () => {
    const res = await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/stix+json;version=2.1');
    const bundle = res.json();
    expect(bundle.type).toBe('bundle');
    expect(bundle.id).toMatch(STIX_ID);
    const ids = new Set<string>();
    for (const o of bundle.objects) {
      expect(o.id, JSON.stringify(o)).toMatch(STIX_ID);
      expect(o.id.startsWith(`${o.type}--`)).toBe(true);
      expect(o.spec_version).toBe('2.1');
      expect(o.created).toMatch(TIMESTAMP);
      if (o.type !== 'marking-definition') expect(o.modified).toMatch(TIMESTAMP);
      expect(ids.has(o.id)).toBe(false);
      ids.add(o.id);
    }
    // Every reference resolves inside the bundle (TLP markings included).
    for (const o of bundle.objects) {
      for (const ref of [o.created_by_ref, o.sighting_of_ref, o.source_ref, o.target_ref, ...(o.object_marking_refs ?? []), ...(o.where_sighted_refs ?? [])]) {
        if (ref !== undefined && o.type !== 'marking-definition') expect(ids.has(ref), `${o.id} -> ${ref}`).toBe(true);
      }
    }
    const byType = (t: string) => bundle.objects.filter((o: { type: string }) => o.type === t);
    const indicator = byType('indicator').find((o: { pattern: string }) => o.pattern === "[ipv4-addr:value = '45.33.32.156']");
    expect(indicator).toMatchObject({ pattern_type: 'stix', indicator_types: ['malicious-activity'], object_marking_refs: ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb'] });
    expect(indicator.valid_from).toMatch(TIMESTAMP);
    expect(byType('indicator').map((o: { pattern: string }) => o.pattern)).toContain("[domain-name:value = 'evil-c2.xyz']");
    // Proposed, rejected, revoked and expired decisions are not exported.
    expect(JSON.stringify(bundle)).not.toMatch(/45\.33\.32\.157|45\.33\.32\.200|45\.33\.34\.1'|45\.33\.35\.1'/);
    const sighting = byType('sighting').find((s: { sighting_of_ref: string }) => s.sighting_of_ref === indicator.id);
    expect(sighting).toMatchObject({ count: 2, first_seen: new Date(NOW - 7_200_000).toISOString(), last_seen: new Date(NOW - 600_000).toISOString() });
    expect(byType('x-mamori-detection').map((d: { x_mamori_detection_id: string }) => d.x_mamori_detection_id).sort()).toEqual(['det-a-c2', 'det-a-c2-2']);
    expect(byType('relationship').filter((r: { source_ref: string }) => r.source_ref === indicator.id)).toHaveLength(2);
    expect(byType('identity')).toEqual([expect.objectContaining({ name: 'Org A', identity_class: 'organization' })]);
    const marking = byType('marking-definition').find((m: { id: string }) => m.id === 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb');
    expect(marking).toMatchObject({ name: 'TLP:GREEN', extensions: { 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d': { tlp_2_0: 'green' } } });
  });

  it('has deterministic ids: a re-export is identical and a new decision on a value keeps its indicator id', async () => {
    const one = (await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') })).json();
    const two = (await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') })).json();
    expect(two).toEqual(one);
    const indicatorId = one.objects.find((o: { pattern?: string }) => o.pattern === "[ipv4-addr:value = '45.33.32.156']").id;
    // Share the same value: still one indicator with the same id.
    expect((await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.32.156' }, action: 'share', share_with: ['cert-x'], justification })).statusCode).toBe(201);
    const three = (await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') })).json();
    const matches = three.objects.filter((o: { pattern?: string }) => o.pattern === "[ipv4-addr:value = '45.33.32.156']");
    expect(matches).toHaveLength(1);
    expect(matches[0].id).toBe(indicatorId);
    expect(matches[0].labels).toEqual(['mamori-decision-block', 'mamori-decision-share']);
  });

  it('matches the shape of the STIX 2.1 examples (indicator properties)', async () => {
    const { readFileSync } = await import('node:fs');
    const example = JSON.parse(readFileSync(fileURLToPath(new URL('../../../shared/data/intel/stix/indicator-for-c2-ip-address.json', import.meta.url)), 'utf8'));
    const exampleIndicator = example.objects.find((o: { type: string }) => o.type === 'indicator');
    const ours = (await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') })).json().objects.find((o: { type: string }) => o.type === 'indicator');
    for (const key of Object.keys(exampleIndicator)) if (key !== 'description') expect(ours, key).toHaveProperty(key);
    expect(Object.keys(example).sort()).toEqual(Object.keys((await app.inject({ url: '/v1/stix/bundle', headers: auth('viewerA') })).json()).sort());
  });
});

describe('inventory changes', () => {
  it('apply to the next decision and to approvals of earlier proposals', async () => {
    const p = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.36.1' }, action: 'block', justification });
    expect(p.statusCode).toBe(201);
    writeFileSync(
      inventoryFile,
      ['organizations:', '  - id: org-a', '    name: Org A', '  - id: org-b', 'home_networks:', '  org-a: [93.184.216.0/24, "2a00:1450:4001::/48", 45.33.36.0/24]', ''].join('\n'),
    );
    let status = 0;
    for (let i = 0; i < 50 && status !== 422; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.36.2' }, action: 'block', justification })).statusCode;
    }
    expect(status).toBe(422);
    const approve = await post('approverA', `/v1/decisions/${p.json().id}/approve`, {});
    expect(approve.statusCode).toBe(422);
    expect(approve.json()).toMatchObject({ rule: 'home_network' });
  });
});

// Last in the file: these approvals add blocks to org-a's lists, which the tests above compare exactly.
describe('concurrent changes of one decision', () => {
  type Change = { who: Who; action: 'approve' | 'reject' | 'revoke'; status: string };
  const approve = (who: Who): Change => ({ who, action: 'approve', status: 'active' });
  const PAIRS: [Change, Change][] = [
    [approve('approverA'), approve('approverA2')],
    [approve('approverA'), { who: 'analystA2', action: 'revoke', status: 'revoked' }],
    [{ who: 'approverA2', action: 'reject', status: 'rejected' }, approve('approverA')],
    [{ who: 'approverA', action: 'reject', status: 'rejected' }, { who: 'analystA2', action: 'revoke', status: 'revoked' }],
  ];

  /** Proposes a block, fires both changes at once, and checks that exactly one won, in the answers, the decision and its audit trail. */
  async function race(api: FastifyInstance, value: string, [a, b]: [Change, Change], beforeFire?: () => void): Promise<{ error: string; failedEntries: number }> {
    const created = await api.inject({ method: 'POST', url: '/v1/decisions', headers: auth('analystA'), payload: { indicator: { type: 'ipv4', value }, action: 'block', justification } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    beforeFire?.();
    const answers = await Promise.all(
      [a, b].map((c) => api.inject({ method: 'POST', url: `/v1/decisions/${id}/${c.action}`, headers: auth(c.who), payload: { reason: `${c.action} by ${c.who}` } })),
    );
    const codes = answers.map((r) => r.statusCode);
    expect([...codes].sort(), answers.map((r) => r.body).join(' | ')).toEqual([200, 409]);
    const winner = codes[0] === 200 ? a : b;
    const loser = answers[codes[0] === 200 ? 1 : 0]!.json();
    expect(['version_conflict', 'conflict']).toContain(loser.error);
    expect(loser.decision_id).toBe(id);
    const full = (await api.inject({ url: `/v1/decisions/${id}`, headers: auth('viewerA') })).json();
    expect(full).toMatchObject({ status: winner.status, version: 2, decided_by: `key:${KEYS[winner.who].id}`, decision_reason: `${winner.action} by ${winner.who}` });
    // A loser that got as far as writing has its entry (written before the change) followed by its
    // `.failed` entry; every other entry is the creation and the winner's change.
    const loserWho = winner === a ? b : a;
    type Entry = { action: string; actor: string; reason: string; before: unknown; after: { status: string; version: number } };
    const entries = full.audit as Entry[];
    const failed = entries.filter((e) => e.action.endsWith('.failed'));
    const attempted = entries.filter((e) => failed.some((f) => f.actor === e.actor && f.action === `${e.action}.failed`));
    const effective = entries.filter((e) => !failed.includes(e) && !attempted.includes(e));
    expect(effective.map((e) => [e.action, e.actor])).toEqual([
      ['decision.create', 'key:analyst-a'],
      [`decision.${winner.action}`, `key:${KEYS[winner.who].id}`],
    ]);
    expect(effective[1]).toMatchObject({ before: { status: 'proposed', version: 1 }, after: { status: winner.status, version: 2 } });
    expect(failed.length).toBe(attempted.length);
    for (const f of failed) {
      expect([f.action, f.actor]).toEqual([`decision.${loserWho.action}.failed`, `key:${KEYS[loserWho.who].id}`]);
      expect(f.reason).toMatch(/^did not take effect: .*changed by someone else/);
    }
    return { error: loser.error as string, failedEntries: failed.length };
  }

  it('lets exactly one of two racing approvals, rejections or revocations win, with one effective audit entry', async () => {
    for (let i = 0; i < 24; i++) await race(app, `45.33.50.${i + 1}`, PAIRS[i % PAIRS.length]!);
  });

  it('answers 409 version_conflict to the loser when both passed their checks before either wrote', async () => {
    // Inserts into decision_versions wait until two arrive, so both requests read version 1 and both write version 2.
    let gateOn = false;
    let waiting: (() => void)[] = [];
    const gated: StorageDriver = Object.create(storage) as StorageDriver;
    gated.insert = async (table, rows, options) => {
      if (gateOn && table === 'decision_versions') {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length >= 2) {
            gateOn = false;
            for (const release of waiting) release();
            waiting = [];
          }
        });
      }
      return storage.insert(table, rows, options);
    };
    const api = await buildQueryApi(loadQueryApiConfig(env), { storage: gated, logger: silentLogger(), registry: createRegistry() });
    try {
      for (let i = 0; i < 12; i++) {
        const outcome = await race(api, `45.33.51.${i + 1}`, PAIRS[i % PAIRS.length]!, () => {
          gateOn = true;
        });
        // Both wrote, so the loser's audit entry exists and is followed by its `.failed` entry.
        expect(outcome).toEqual({ error: 'version_conflict', failedEntries: 1 });
      }
    } finally {
      await api.close();
    }
  });

  it('accepts one of two simultaneous decisions on the same value and action, and names it to the other', async () => {
    for (let i = 0; i < 6; i++) {
      const payload = { indicator: { type: 'ipv4', value: `45.33.53.${i + 1}` }, action: 'block', justification };
      const answers = await Promise.all([post('analystA', '/v1/decisions', payload), post('analystA2', '/v1/decisions', payload)]);
      expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 409]);
      const created = answers.find((r) => r.statusCode === 201)!.json();
      expect(answers.find((r) => r.statusCode === 409)!.json()).toMatchObject({ error: 'conflict', decision_id: created.id });
      const listed = (await app.inject({ url: `/v1/decisions?indicator_value=45.33.53.${i + 1}`, headers: auth('viewerA') })).json().decisions;
      expect(listed.map((d: { id: string }) => d.id)).toEqual([created.id]);
    }
  });

  it('documents the conflicts in the OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    for (const action of ['approve', 'reject', 'revoke']) {
      const op = doc.paths[`/v1/decisions/{id}/${action}`].post;
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '403', '404', '409', '422']));
      expect(JSON.stringify(op.responses['409'])).toContain('current_version');
      expect(JSON.stringify(op.requestBody)).toContain('expected_version');
    }
    expect(Object.keys(doc.paths['/v1/decisions'].post.responses)).toEqual(expect.arrayContaining(['201', '409', '422']));
  });

  it('refuses a change that names a version that is no longer current', async () => {
    const created = await post('analystA', '/v1/decisions', { indicator: { type: 'ipv4', value: '45.33.52.1' }, action: 'block', justification });
    const id = created.json().id;
    expect(created.json().version).toBe(1);
    const stale = await post('approverA', `/v1/decisions/${id}/approve`, { expected_version: 2 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ error: 'version_conflict', decision_id: id, current_version: 1 });
    const ok = await post('approverA', `/v1/decisions/${id}/approve`, { expected_version: 1 });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'active', version: 2 });
    expect((await post('analystA2', `/v1/decisions/${id}/revoke`, { reason: 'stale view', expected_version: 1 })).json()).toMatchObject({ error: 'version_conflict', current_version: 2 });
  });
});
