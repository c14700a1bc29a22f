import { toDetectionRow, insertDetections } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN, NOW, createFixture, key, type Fixture } from './api-fixture.ts';

// The happy paths of every analyst route against the real embedded ClickHouse.
let fx: Fixture;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await createFixture('mamori_api_routes');
  app = await fx.build();
});
afterAll(async () => fx?.close());

const get = async (url: string, who: Parameters<typeof key>[0] = 'analyst-a') => {
  const res = await app.inject({ url, headers: key(who) });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
  return res.json();
};
const ids = (page: { detections: { id: string }[] }) => page.detections.map((d) => d.id);

describe('GET /v1/detections', () => {
  it('filters by technique (with sub-techniques), entity IP or CIDR, title text, and sorts', async () => {
    expect(ids(await get('/v1/detections?technique=T1071'))).toEqual(['det-a-beacon']);
    expect(ids(await get('/v1/detections?technique=T1046'))).toEqual(['det-a-scan']);
    expect(ids(await get('/v1/detections?entity_ip=10.0.0.5'))).toEqual(['det-a-scan']);
    expect(ids(await get(`/v1/detections?entity_ip=${encodeURIComponent('10.0.0.0/24')}`))).toEqual(['det-a-beacon', 'det-a-scan']);
    expect(ids(await get('/v1/detections?q=PORT%20SCAN'))).toEqual(['det-a-scan']);
    expect(ids(await get('/v1/detections?sort=first_seen&order=asc'))).toEqual(['det-a-beacon', 'det-a-scan']);
    expect(ids(await get('/v1/detections?sort=severity'))).toEqual(['det-a-scan', 'det-a-beacon']);
    const all = await get('/v1/detections?sort=severity&limit=1', 'admin');
    expect(ids(all)).toEqual(['det-b-rdp']);
    expect(ids(await get(`/v1/detections?sort=severity&limit=5&cursor=${encodeURIComponent(all.next_cursor)}`, 'admin'))).toEqual(['det-a-scan', 'det-a-beacon']);
  });
});

describe('triage and audit', () => {
  it('changes status, assignee and note, filters by them, and records who, when, before, after and why', async () => {
    // The list's rows are cached after this read (API_DETECTION_CACHE_MB); the triage state never is.
    const statusInList = async () => (await get('/v1/detections')).detections.find((d: { id: string }) => d.id === 'det-a-scan')?.status;
    expect(await statusInList()).toBe('new');
    const first = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'in_progress', assignee: 'alice', note: 'looking into it' } });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().state).toMatchObject({ status: 'in_progress', assignee: 'alice', note: 'looking into it', changed_by: 'key:analyst-a', version: 1 });
    expect(first.json().detection).toMatchObject({ id: 'det-a-scan', status: 'in_progress', assignee: 'alice', triage_version: 1 });

    // Optimistic concurrency: a stale version is a 409 and writes nothing.
    const stale = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: { status: 'resolved', expected_version: 0 } });
    expect(stale.statusCode).toBe(409);

    const jwt = await fx.sign({ mamori_roles: ['analyst'], mamori_orgs: ['org-a'] }, { sub: 'bob@example.org' });
    const second = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: { authorization: `Bearer ${jwt}` }, payload: { status: 'false_positive', note: 'authorized scanner', expected_version: 1 } });
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json().state).toMatchObject({ status: 'false_positive', assignee: 'alice', changed_by: 'jwt:bob@example.org', version: 2 });
    expect(await statusInList()).toBe('false_positive');

    expect(ids(await get('/v1/detections?status=false_positive'))).toEqual(['det-a-scan']);
    expect(ids(await get('/v1/detections?status=new'))).toEqual(['det-a-beacon']);
    expect(ids(await get('/v1/detections?status=new,false_positive'))).toEqual(['det-a-beacon', 'det-a-scan']);
    expect(ids(await get('/v1/detections?assignee=alice'))).toEqual(['det-a-scan']);
    expect(ids(await get('/v1/detections?assignee='))).toEqual(['det-a-beacon']);

    const audit = await get('/v1/detections/det-a-scan/audit', 'viewer-a');
    expect(audit.entries).toHaveLength(2);
    const [latest, earliest] = audit.entries;
    expect(earliest).toMatchObject({
      actor: 'key:analyst-a',
      action: 'detection.triaged',
      before: { status: 'new', assignee: '', version: 0 },
      after: { status: 'in_progress', assignee: 'alice', note: 'looking into it', version: 1 },
      reason: 'looking into it',
    });
    expect(latest).toMatchObject({
      actor: 'jwt:bob@example.org',
      before: { status: 'in_progress', assignee: 'alice', version: 1 },
      after: { status: 'false_positive', assignee: 'alice', version: 2 },
      reason: 'authorized scanner',
    });
    expect(Date.parse(latest.at)).toBeGreaterThanOrEqual(Date.parse(earliest.at));
    expect(Math.abs(Date.parse(latest.at) - Date.now())).toBeLessThan(60_000);
    expect(latest.request_id).not.toBe('');
  });
});

describe('GET /v1/detections/:id', () => {
  it('returns the evidence events and the entity\'s surrounding activity', async () => {
    const body = await get('/v1/detections/det-a-scan', 'viewer-a');
    expect(body).toMatchObject({ id: 'det-a-scan', severity: 'high', techniques: ['T1046'], evidence_event_ids: ['ev-a-0', 'ev-a-1', 'ev-a-2', 'ev-b-0'] });
    expect(body.evidence_events.map((e: { id: string }) => e.id)).toEqual(['ev-a-0', 'ev-a-1', 'ev-a-2']);
    expect(body.evidence_events[0]).toMatchObject({ src_ip: '10.0.0.5', dst_ip: '192.0.2.1', dst_port: 443, protocol: 'tcp' });
    // ±15 minutes around [first_seen, last_seen] = every one of the 60 events of 10.0.0.5.
    expect(body.context.ip).toBe('10.0.0.5');
    expect(body.context.events).toHaveLength(60);
    expect(body.context.truncated).toBe(false);
    expect(Date.parse(body.context.since)).toBe(NOW - 45 * MIN);
  });
});

describe('GET /v1/entities/:ip', () => {
  it('returns the hourly timeline, risk score, detections, top peers and ports, first and last seen', async () => {
    const e = await get('/v1/entities/10.0.0.5', 'viewer-a');
    expect(e.ip).toBe('10.0.0.5');
    const total = e.timeline.reduce((n: number, h: { conns_as_src: number }) => n + h.conns_as_src, 0);
    expect(total).toBe(60);
    expect(e.timeline[0]).toHaveProperty('bytes_sent');
    expect(e.detections.map((d: { id: string }) => d.id)).toEqual(['det-a-scan']);
    expect(e.top_peers).toHaveLength(3);
    expect(e.top_peers[0]).toMatchObject({ connections: 20 });
    expect(e.top_ports.map((p: { port: number }) => p.port).sort()).toEqual([22, 443]);
    expect(e.top_ports.find((p: { port: number }) => p.port === 22).connections).toBe(45);
    expect(Date.parse(e.first_seen)).toBeLessThanOrEqual(NOW - 30 * MIN);
    expect(Date.parse(e.last_seen)).toBeGreaterThanOrEqual(NOW - 30 * MIN);
    expect(e.risk.formula).toContain('log10');
    expect(e.risk.detections_considered).toBe(1);

    // The risk score follows the documented formula: a fresh critical with count 1 -> S = 80, score 55.
    await insertDetections(fx.storage, [
      toDetectionRow({ detectionId: 'det-a-crit', orgId: 'org-a', ruleId: 'r', severity: 'critical', entityType: 'ip', entityValue: '10.0.0.77', srcIp: '10.0.0.77', firstSeen: NOW - MIN, lastSeen: NOW, version: 1 }),
    ]);
    const crit = await get('/v1/entities/10.0.0.77', 'viewer-a');
    expect(crit.risk.score).toBe(55);
    expect(crit.first_seen).toBeNull();
    // The false positive above scores nothing.
    expect(e.risk.score).toBe(0);
  });
});

describe('GET /v1/events', () => {
  it('searches with filters inside a bounded range, newest first', async () => {
    const all = await get('/v1/events?ip=10.0.0.5&limit=100', 'viewer-a');
    expect(all.events).toHaveLength(60);
    expect(Date.parse(all.events[0].time)).toBeGreaterThan(Date.parse(all.events[59].time));
    expect((await get('/v1/events?dst_ip=192.0.2.1&dst_port=443', 'viewer-a')).events.length).toBe(5);
    expect((await get(`/v1/events?dst_ip=${encodeURIComponent('192.0.2.0/30')}&limit=5`, 'viewer-a'))).toMatchObject({ truncated: true });
    expect((await get('/v1/events?protocol=udp', 'viewer-a')).events).toEqual([]);
    expect((await get('/v1/events?ip=10.9.9.9', 'admin')).events).toHaveLength(10);
  });
});

describe('GET /v1/stats', () => {
  it('returns detections by severity and rule, top entities and ingest per sensor', async () => {
    const s = await get('/v1/stats', 'viewer-a');
    const sev = Object.fromEntries(s.detections_by_severity.map((h: { key: string; count: number }) => [h.key, h.count]));
    expect(sev).toMatchObject({ high: 1, medium: 1 });
    expect(s.detections_by_rule.map((h: { key: string }) => h.key)).toEqual(expect.arrayContaining(['mamori.network.port_scan', 'mamori.network.beacon']));
    expect(s.top_entities[0]).toMatchObject({ org_id: 'org-a', ip: '10.0.0.5', connections: 60 });
    expect(s.ingest.map((i: { sensor_id: string; events: number }) => [i.sensor_id, i.events]).sort()).toEqual([['sensor-a1', 30], ['sensor-a2', 30]]);
    const all = await get('/v1/stats', 'admin');
    // org-b's critical detection counts only for the admin (org-a's own critical comes from the entity test).
    const crit = (x: { detections_by_severity: { key: string; count: number }[] }) => x.detections_by_severity.filter((h) => h.key === 'critical').reduce((n, h) => n + h.count, 0);
    expect(crit(all)).toBe(crit(s) + 1);
    expect(all.ingest.map((i: { sensor_id: string }) => i.sensor_id).sort()).toEqual(['sensor-a1', 'sensor-a2', 'sensor-b1']);
  });
});

describe('GET /v1/detections/stream', () => {
  it('streams new detections of the caller\'s organizations with the filters, heartbeats, and bounds subscribers', async () => {
    const registryApp = await fx.build({ API_MAX_SSE_SUBSCRIBERS: '1' });
    const url = await registryApp.listen({ host: '127.0.0.1', port: 0 });
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/detections/stream?min_severity=medium`, { headers: key('analyst-a'), signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    // A second subscriber over API_MAX_SSE_SUBSCRIBERS=1 is refused.
    const second = await fetch(`${url}/v1/detections/stream`, { headers: key('viewer-a') });
    expect(second.status).toBe(503);
    const gauge = await registryApp.inject({ url: '/v1/stats', headers: key('viewer-a') });
    expect(gauge.statusCode).toBe(200);

    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    await insertDetections(fx.storage, [
      toDetectionRow({ detectionId: 'det-live-a', orgId: 'org-a', ruleId: 'r', title: 'live one', severity: 'high', firstSeen: t - 1000, lastSeen: t, detectedAt: t, version: 1 }),
      toDetectionRow({ detectionId: 'det-live-low', orgId: 'org-a', ruleId: 'r', severity: 'low', firstSeen: t - 1000, lastSeen: t, detectedAt: t, version: 1 }),
      toDetectionRow({ detectionId: 'det-live-b', orgId: 'org-b', ruleId: 'r', severity: 'critical', firstSeen: t - 1000, lastSeen: t, detectedAt: t, version: 1 }),
    ]);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(text.includes('det-live-a') && text.includes(': heartbeat'))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    expect(text).toContain('event: detection');
    expect(text).toContain('"id":"det-live-a"');
    expect(text).toMatch(/^id: [A-Za-z0-9_-]+$/m);
    expect(text).toContain(': heartbeat');
    expect(text).not.toContain('det-live-low');
    expect(text).not.toContain('det-live-b');
    expect(text).not.toContain('det-a-scan'); // history is not replayed
  });
});

describe('GET /v1/detections/stream filters', () => {
  it('applies every list filter, including the current triage status and assignee, and streams each detection with its triage state', async () => {
    const streamApp = await fx.build({ API_SSE_POLL_INTERVAL_MS: '200' });
    const url = await streamApp.listen({ host: '127.0.0.1', port: 0 });
    const t0 = Date.now();
    const det = (id: string, fields: Partial<Parameters<typeof toDetectionRow>[0]>, at: number, version = 1) =>
      toDetectionRow({ detectionId: id, orgId: 'org-a', ruleId: 'r.other', title: 'other', severity: 'high', firstSeen: t0 - 60_000, lastSeen: at, detectedAt: at, version, ...fields });
    // A detection triaged before the streams open: its next update is not `new`.
    await insertDetections(fx.storage, [det('det-s-3', { srcIp: '10.3.3.3', entityType: 'ip', entityValue: '10.3.3.3' }, t0 - 1000)]);
    const triage = await app.inject({ method: 'PATCH', url: '/v1/detections/det-s-3', headers: key('analyst-a'), payload: { status: 'false_positive', assignee: 'carol', note: 'lab scanner' } });
    expect(triage.statusCode, triage.body).toBe(200);

    const filters: Record<string, string[]> = {
      'rule_id=r.match': ['det-s-1'],
      'technique=T1071': ['det-s-1'],
      [`entity_ip=${encodeURIComponent('10.1.1.0/24')}`]: ['det-s-1'],
      'q=STREAM%20MATCH': ['det-s-1'],
      'src_ip=10.2.2.2': ['det-s-2'],
      'min_severity=critical': ['det-s-2'],
      'status=new': ['det-s-1', 'det-s-2'],
      'status=false_positive,resolved': ['det-s-3'],
      'assignee=carol': ['det-s-3'],
      'assignee=': ['det-s-1', 'det-s-2'],
      '': ['det-s-1', 'det-s-2', 'det-s-3'],
    };
    const controller = new AbortController();
    const streams = await Promise.all(
      Object.keys(filters).map(async (query) => {
        const res = await fetch(`${url}/v1/detections/stream?${query}`, { headers: key('analyst-a'), signal: controller.signal });
        expect(res.status, query).toBe(200);
        return { query, reader: res.body!.getReader(), text: '' };
      }),
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      const t = Date.now();
      await insertDetections(fx.storage, [
        det('det-s-1', { ruleId: 'r.match', title: 'Stream match one', techniques: ['T1071.001'], srcIp: '10.1.1.1', entityType: 'ip', entityValue: '10.1.1.1' }, t),
        det('det-s-2', { srcIp: '10.2.2.2', severity: 'critical', techniques: ['T1046'] }, t),
        det('det-s-3', { srcIp: '10.3.3.3', entityType: 'ip', entityValue: '10.3.3.3' }, t, 2),
      ]);
      const decoder = new TextDecoder();
      const received = (text: string) => [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id: string; status: string; assignee: string | null });
      await Promise.all(
        streams.map(async (s) => {
          const deadline = Date.now() + 15_000;
          const want = filters[s.query]!;
          while (Date.now() < deadline && !want.every((id) => received(s.text).some((d) => d.id === id))) {
            const { value, done } = await s.reader.read();
            if (done) break;
            s.text += decoder.decode(value, { stream: true });
          }
        }),
      );
      // Another poll or two: anything a filter should have left out would be here by now.
      await new Promise((r) => setTimeout(r, 600));
      controller.abort();
      for (const s of streams) {
        for (;;) {
          const next = await s.reader.read().catch(() => ({ done: true, value: undefined }));
          if (next.done || !next.value) break;
          s.text += decoder.decode(next.value, { stream: true });
        }
        const got = received(s.text);
        expect(got.map((d) => d.id).filter((id) => id.startsWith('det-s-')).sort(), s.query).toEqual(filters[s.query]);
        const triaged = got.find((d) => d.id === 'det-s-3');
        if (triaged) expect(triaged, s.query).toMatchObject({ status: 'false_positive', assignee: 'carol' });
        const fresh = got.find((d) => d.id === 'det-s-1');
        if (fresh) expect(fresh, s.query).toMatchObject({ status: 'new', assignee: null });
      }
    } finally {
      controller.abort();
      await streamApp.close();
    }
  });
});
