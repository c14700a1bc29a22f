import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistry } from '@mamori/metrics';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOW, bearer, createFixture, key, type Fixture } from './api-fixture.ts';

// The obvious attacks on the analyst API, against the real embedded ClickHouse.
let fx: Fixture;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await createFixture('mamori_api_security');
  app = await fx.build();
});
afterAll(async () => fx?.close());

const unsigned = (claims: Record<string, unknown>): string => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
};

describe('authentication', () => {
  it('refuses missing, malformed and forged API keys with 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }, { authorization: 'Bearer admin.wrong-secret-0123456789' }, { authorization: 'Bearer ghost.admin-all-secret-0123456789' }]) {
      const res = await app.inject({ url: '/v1/detections', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('accepts a JWT signed by the JWKS with roles and organizations from mamori_roles / mamori_orgs', async () => {
    const token = await fx.sign({ mamori_roles: ['viewer'], mamori_orgs: ['org-a'] });
    const res = await app.inject({ url: '/v1/detections', headers: bearer(token) });
    expect(res.statusCode).toBe(200);
    expect(res.json().detections.map((d: { org_id: string }) => d.org_id)).toEqual(['org-a', 'org-a']);
  });

  it('refuses JWTs with a wrong signature, expired, wrong audience or issuer, alg none, or no role', async () => {
    const claims = { mamori_roles: ['admin'], mamori_orgs: '*' };
    const cases: [string, string][] = [
      ['wrong signature', await fx.sign(claims, { key: fx.otherKey })],
      ['expired', await fx.sign(claims, { exp: Math.floor(Date.now() / 1000) - 3600 })],
      ['wrong audience', await fx.sign(claims, { aud: 'someone-else' })],
      ['wrong issuer', await fx.sign(claims, { iss: 'https://evil.test' })],
      ['alg none', unsigned({ ...claims, iss: 'https://idp.test', aud: 'mamori-api', sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 600 })],
      ['no role', await fx.sign({ mamori_orgs: '*' })],
      ['unknown role', await fx.sign({ mamori_roles: ['root'], mamori_orgs: '*' })],
      ['hostile orgs claim', await fx.sign({ mamori_roles: ['admin'], mamori_orgs: ["org-a' OR 1=1 --"] })],
    ];
    // A tampered payload on a valid signature.
    const good = await fx.sign({ mamori_roles: ['viewer'], mamori_orgs: ['org-a'] });
    const [h, , s] = good.split('.');
    cases.push(['tampered payload', `${h}.${Buffer.from(JSON.stringify({ ...claims, iss: 'https://idp.test', aud: 'mamori-api', sub: 'x', exp: 9_999_999_999 })).toString('base64url')}.${s}`]);
    for (const [name, token] of cases) {
      const res = await app.inject({ url: '/v1/detections', headers: bearer(token) });
      expect(res.statusCode, name).toBe(401);
    }
  });

  it('verifies JWTs against a JWKS URL as well (fetched, cached), and refuses other keys there too', async () => {
    let fetches = 0;
    const jwks = readFileSync(fx.jwksFile, 'utf8');
    const server = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const remote = await fx.build({ API_JWT_JWKS_FILE: '', API_JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks` });
      const token = await fx.sign({ mamori_roles: ['viewer'], mamori_orgs: ['org-b'] });
      for (let i = 0; i < 3; i++) expect((await remote.inject({ url: '/v1/detections', headers: bearer(token) })).json().detections.map((d: { id: string }) => d.id)).toEqual(['det-b-rdp']);
      expect(fetches).toBe(1);
      const forged = await fx.sign({ mamori_roles: ['admin'], mamori_orgs: '*' }, { key: fx.otherKey });
      expect((await remote.inject({ url: '/v1/detections', headers: bearer(forged) })).statusCode).toBe(401);
    } finally {
      server.close();
    }
  });

  it('refuses every JWT when no JWKS is configured', async () => {
    const noJwt = await fx.build({ API_JWT_JWKS_FILE: '', API_JWT_ISSUER: '', API_JWT_AUDIENCE: '' });
    const token = await fx.sign({ mamori_roles: ['admin'], mamori_orgs: '*' });
    expect((await noJwt.inject({ url: '/v1/detections', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('serves /openapi.json and /docs without a credential, and documents every route', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/v1/detections', '/v1/detections/{id}', '/v1/detections/{id}/audit', '/v1/detections/stream', '/v1/entities/{ip}', '/v1/events', '/v1/stats']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/v1/detections/{id}'].patch).toBeDefined();
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer');
    expect((await app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
  });
});

describe('roles and organizations', () => {
  it('forbids a viewer (API key or JWT) to triage (403) and writes nothing', async () => {
    const res = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('viewer-a'), payload: { status: 'resolved' } });
    expect(res.statusCode).toBe(403);
    const token = await fx.sign({ mamori_roles: 'viewer', mamori_orgs: ['org-a'] });
    expect((await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: bearer(token), payload: { status: 'resolved' } })).statusCode).toBe(403);
    // Nothing was written.
    const audit = (await app.inject({ url: '/v1/detections/det-a-scan/audit', headers: key('viewer-a') })).json();
    expect(audit.entries).toEqual([]);
  });

  it("hides another organization's detection (404) from reading, its audit, and triage", async () => {
    expect((await app.inject({ url: '/v1/detections/det-b-rdp', headers: key('analyst-a') })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/detections/det-b-rdp/audit', headers: key('analyst-a') })).statusCode).toBe(404);
    const patch = await app.inject({ method: 'PATCH', url: '/v1/detections/det-b-rdp', headers: key('analyst-a'), payload: { status: 'false_positive', note: 'not mine' } });
    expect(patch.statusCode).toBe(404);
    const jwt = await fx.sign({ mamori_roles: ['admin'], mamori_orgs: ['org-a'] });
    expect((await app.inject({ method: 'PATCH', url: '/v1/detections/det-b-rdp', headers: bearer(jwt), payload: { status: 'resolved' } })).statusCode).toBe(404);
    // org-b's detection is untouched.
    const b = (await app.inject({ url: '/v1/detections/det-b-rdp', headers: key('analyst-b') })).json();
    expect(b.status).toBe('new');
    // Lists, events, entities and stats never show org-b rows to org-a.
    const events = (await app.inject({ url: '/v1/events?ip=10.9.9.9', headers: key('viewer-a') })).json();
    expect(events.events).toEqual([]);
    const entity = (await app.inject({ url: '/v1/entities/10.9.9.9', headers: key('viewer-a') })).json();
    expect(entity.detections).toEqual([]);
    expect(entity.timeline).toEqual([]);
    expect([entity.top_peers, entity.top_ports, entity.first_seen]).toEqual([[], [], null]);
    const stats = (await app.inject({ url: '/v1/stats', headers: key('viewer-a') })).json();
    expect(stats.ingest.every((s: { org_id: string }) => s.org_id === 'org-a')).toBe(true);
    // Evidence ids that name another organization's event are not resolved.
    const detail = (await app.inject({ url: '/v1/detections/det-a-scan', headers: key('viewer-a') })).json();
    expect(detail.evidence_events.map((e: { id: string }) => e.id).sort()).toEqual(['ev-a-0', 'ev-a-1', 'ev-a-2']);
  });
});

describe('hostile and oversized input', () => {
  const injections = ["' OR 1=1 --", "x'; DROP TABLE mamori_api_security.detections; --", '\\', '%', '_', '{orgIds:Array(String)}', 'x\u0000y', "') UNION SELECT * FROM system.users --"];

  it('answers 400 or treats injection strings as plain values, in every filter, and the tables stay intact', async () => {
    const params = ['min_severity', 'rule_id', 'src_ip', 'status', 'assignee', 'technique', 'entity_ip', 'q', 'sort', 'order', 'cursor', 'since', 'until'];
    for (const value of injections) {
      for (const p of params) {
        const res = await app.inject({ url: `/v1/detections?${p}=${encodeURIComponent(value)}`, headers: key('admin') });
        expect([200, 400], `${p}=${value}`).toContain(res.statusCode);
        if (res.statusCode === 200) expect(res.json().detections, `${p}=${value}`).toEqual([]);
      }
      for (const p of ['src_ip', 'dst_ip', 'ip', 'protocol', 'event_class', 'community_id', 'q', 'port']) {
        const res = await app.inject({ url: `/v1/events?${p}=${encodeURIComponent(value)}`, headers: key('admin') });
        expect([200, 400], `events ${p}=${value}`).toContain(res.statusCode);
        if (res.statusCode === 200) expect(res.json().events).toEqual([]);
      }
      for (const url of [`/v1/detections/${encodeURIComponent(value)}`, `/v1/detections/${encodeURIComponent(value)}/audit`, `/v1/entities/${encodeURIComponent(value)}`]) {
        const res = await app.inject({ url, headers: key('admin') });
        expect([400, 404], url).toContain(res.statusCode);
      }
      const stream = await app.inject({ url: `/v1/detections/stream?entity_ip=${encodeURIComponent(value)}`, headers: key('admin') });
      expect(stream.statusCode).toBe(400);
    }
    // A hostile assignee or note is stored as a value, and read back verbatim.
    const patch = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-beacon', headers: key('analyst-a'), payload: { assignee: "bob'); DROP TABLE x; --", note: injections.join(' | ') } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().state.assignee).toBe("bob'); DROP TABLE x; --");
    const byAssignee = (await app.inject({ url: `/v1/detections?assignee=${encodeURIComponent("bob'); DROP TABLE x; --")}`, headers: key('analyst-a') })).json();
    expect(byAssignee.detections.map((d: { id: string }) => d.id)).toEqual(['det-a-beacon']);
    // Tables intact.
    expect((await app.inject({ url: '/v1/detections', headers: key('admin') })).json().detections).toHaveLength(3);
    const count = await fx.storage.query('SELECT count() AS n FROM mamori_api_security.events');
    expect(Number(count[0]!['n'])).toBe(70);
  });

  it('answers 400 or treats injection strings as plain values in the decision, stats and export filters', async () => {
    const decisionParams = ['action', 'status', 'indicator_type', 'indicator_value', 'detection_id'];
    for (const value of injections) {
      for (const p of decisionParams) {
        const res = await app.inject({ url: `/v1/decisions?${p}=${encodeURIComponent(value)}`, headers: key('admin') });
        expect([200, 400], `decisions ${p}=${value}`).toContain(res.statusCode);
        if (res.statusCode === 200) expect(res.json().decisions, `decisions ${p}=${value}`).toEqual([]);
      }
      for (const p of ['top_by', 'top', 'since', 'until']) {
        const res = await app.inject({ url: `/v1/stats?${p}=${encodeURIComponent(value)}`, headers: key('admin') });
        expect(res.statusCode, `stats ${p}=${value}`).toBe(400);
      }
      for (const p of ['org_id', 'action']) {
        const res = await app.inject({ url: `/v1/stix/bundle?${p}=${encodeURIComponent(value)}`, headers: key('admin') });
        expect([200, 400], `stix ${p}=${value}`).toContain(res.statusCode);
        // `_` is a well-formed organization id: no such organization, so nothing in the bundle.
        if (res.statusCode === 200) expect(res.json().objects.filter((o: { type: string }) => o.type === 'indicator'), `stix ${p}=${value}`).toEqual([]);
      }
      for (const url of [`/v1/blocklists/${encodeURIComponent(value)}`, `/v1/blocklists/ip.${encodeURIComponent(value)}`, `/v1/decisions/${encodeURIComponent(value)}`]) {
        expect([400, 404], url).toContain((await app.inject({ url, headers: key('admin') })).statusCode);
      }
    }
    const count = await fx.storage.query('SELECT count() AS n FROM mamori_api_security.detections');
    expect(Number(count[0]!['n'])).toBeGreaterThanOrEqual(3);
  });

  it('answers 400 to injection strings in the stream filters, or streams them as plain values', async () => {
    const server = await fx.build();
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      for (const value of injections) {
        for (const p of ['min_severity', 'rule_id', 'technique', 'entity_ip', 'q', 'status', 'assignee', 'src_ip']) {
          const controller = new AbortController();
          const res = await fetch(`${url}/v1/detections/stream?${p}=${encodeURIComponent(value)}`, { headers: key('admin'), signal: controller.signal });
          expect([200, 400], `stream ${p}=${value}`).toContain(res.status);
          if (res.status === 200) {
            // The stream opened: its first poll ran the filter against ClickHouse without failing.
            const reader = res.body!.getReader();
            let text = '';
            const deadline = Date.now() + 5_000;
            while (Date.now() < deadline && !text.includes(': stream open')) {
              const { value: chunk, done } = await reader.read();
              if (done) break;
              text += new TextDecoder().decode(chunk);
            }
            await new Promise((r) => setTimeout(r, 50));
            controller.abort();
            expect(text, `stream ${p}=${value}`).toContain(': stream open');
            expect(text, `stream ${p}=${value}`).not.toContain('poll failed');
          } else {
            await res.body?.cancel();
          }
        }
      }
    } finally {
      await server.close();
    }
  });

  it('refuses huge pages of decisions and stats with 400', async () => {
    for (const url of ['/v1/decisions?limit=100000', '/v1/decisions?limit=0', '/v1/stats?top=101']) {
      expect((await app.inject({ url, headers: key('admin') })).statusCode, url).toBe(400);
    }
  });

  it('refuses huge pages, wide or inverted time ranges, unknown parameters and bad bodies with 400', async () => {
    const urls = [
      '/v1/detections?limit=100000',
      '/v1/detections?limit=0',
      '/v1/detections?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      `/v1/detections?since=${NOW}&until=${NOW - 1000}`,
      '/v1/detections?unknown=1',
      `/v1/detections?q=${'a'.repeat(201)}`,
      '/v1/events?limit=100000',
      '/v1/events?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      '/v1/events?port=70000',
      '/v1/events?ip=10.0.0.0/99',
      '/v1/entities/10.0.0.5?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      '/v1/stats?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      '/v1/stats?top=1000',
      '/v1/detections/det-a-scan/audit?limit=100000',
    ];
    for (const url of urls) expect((await app.inject({ url, headers: key('admin') })).statusCode, url).toBe(400);
    const bodies: unknown[] = [{}, { status: 'pwned' }, { note: 'x'.repeat(4001) }, { status: 'resolved', role: 'admin' }, { org_id: 'org-b' }];
    for (const payload of bodies) {
      const res = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: key('analyst-a'), payload: payload as Record<string, unknown> });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const huge = await app.inject({ method: 'PATCH', url: '/v1/detections/det-a-scan', headers: { ...key('analyst-a'), 'content-type': 'application/json' }, payload: JSON.stringify({ note: 'x'.repeat(70_000) }) });
    expect(huge.statusCode).toBe(413);
  });
});

describe('rate limits', () => {
  it('answers 429 per credential over API_RATE_LIMIT_PER_MINUTE and counts it', async () => {
    const registry = createRegistry();
    const limited = await fx.build({ API_RATE_LIMIT_PER_MINUTE: '5' }, registry);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await limited.inject({ url: '/v1/detections', headers: key('viewer-a') })).statusCode);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429, 429]);
    const over = await limited.inject({ url: '/v1/detections', headers: key('viewer-a') });
    expect(over.json().error).toBe('rate_limited');
    // Another credential has its own budget.
    expect((await limited.inject({ url: '/v1/detections', headers: key('admin') })).statusCode).toBe(200);
    const text = await registry.metrics();
    expect(text).toMatch(/^mamori_api_rate_limited_total 4$/m);
  });
});
