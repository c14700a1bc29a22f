import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { migrate, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The TAXII 2.1 server on real embedded ClickHouse: partner credentials and isolation, pagination,
// manifest, filters, media types, error objects.
const dir = mkdtempSync(join(tmpdir(), 'mamori-taxii-'));
const TAXII = 'application/taxii+json;version=2.1';
const partnerSecret = (id: string) => `${id}-partner-secret-0123456789`;
const env = {
  MAMORI_API_KEYS: [
    `analyst-a:${hashSecret('analyst-a-secret-0123456789')}:analyst:org-a`,
    `analyst-b:${hashSecret('analyst-b-secret-0123456789')}:analyst:org-b`,
  ].join(';'),
  API_TAXII_PARTNERS: [
    `cert-x:${hashSecret(partnerSecret('cert-x'))}:org-a`,
    `cert-y:${hashSecret(partnerSecret('cert-y'))}:org-a`,
    `cert-z:${hashSecret(partnerSecret('cert-z'))}:org-b`,
  ].join(';'),
  API_RATE_LIMIT_PER_MINUTE: '0',
};
const basic = (id: string, secret = partnerSecret(id)) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, accept: TAXII });
const analyst = (org: 'a' | 'b') => ({ authorization: `Bearer analyst-${org}.analyst-${org}-secret-0123456789` });
const justification = 'shared with the sector CERT per agreement';

let storage: StorageDriver;
let app: FastifyInstance;
const sharedWithX: string[] = [];

async function get(url: string, headers: Record<string, string>) {
  const res = await app.inject({ url, headers });
  return { res, body: res.json() };
}

beforeAll(async () => {
  storage = createChdbStorage({ path: dir, database: 'mamori_taxii_test' });
  await storage.connect();
  await migrate(storage, { database: 'mamori_taxii_test' });
  app = await buildQueryApi(loadQueryApiConfig(env), { storage, logger: silentLogger(), registry: createRegistry() });
  const share = async (value: string, partners: string[], org: 'a' | 'b' = 'a', tlp = 'amber') => {
    const res = await app.inject({ method: 'POST', url: '/v1/decisions', headers: analyst(org), payload: { indicator: { type: 'ipv4', value }, action: 'share', share_with: partners, justification, tlp } });
    if (res.statusCode !== 201) throw new Error(res.body);
    return res.json().id as string;
  };
  for (let i = 1; i <= 23; i++) {
    await share(`45.67.${i}.1`, i % 5 === 0 ? ['cert-x', 'cert-y'] : ['cert-x'], 'a', i % 2 ? 'amber' : 'green');
    sharedWithX.push(`45.67.${i}.1`);
  }
  await share('46.1.1.1', ['cert-y']);
  await share('47.1.1.1', ['cert-z'], 'b');
});

afterAll(async () => {
  await app?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TAXII 2.1 discovery and API root', () => {
  it('answers discovery and the API root with the TAXII media type', async () => {
    const { res, body } = await get('/taxii2/', basic('cert-x'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(TAXII);
    expect(body).toMatchObject({ title: expect.any(String), default: '/taxii2/mamori/', api_roots: ['/taxii2/mamori/'] });
    const root = await get('/taxii2/mamori/', basic('cert-x'));
    expect(root.body).toMatchObject({ versions: [TAXII], max_content_length: expect.any(Number) });
  });

  it('refuses missing or wrong credentials with a TAXII error object, and an unacceptable Accept with 406', async () => {
    const none = await app.inject({ url: '/taxii2/' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toBe(TAXII);
    expect(none.headers['www-authenticate']).toContain('Basic');
    expect(none.json()).toMatchObject({ title: 'Unauthorized', http_status: '401' });
    expect((await app.inject({ url: '/taxii2/', headers: basic('cert-x', 'wrong-secret-0123456789') })).statusCode).toBe(401);
    expect((await app.inject({ url: '/taxii2/', headers: basic('cert-nobody') })).statusCode).toBe(401);
    // An analyst's API key is not a partner credential.
    expect((await app.inject({ url: '/taxii2/', headers: analyst('a') })).statusCode).toBe(401);
    const xml = await app.inject({ url: '/taxii2/', headers: { ...basic('cert-x'), accept: 'application/xml' } });
    expect(xml.statusCode).toBe(406);
    expect(xml.json().http_status).toBe('406');
    expect((await app.inject({ url: '/taxii2/', headers: { ...basic('cert-x'), accept: 'application/taxii+json;version=2.0' } })).statusCode).toBe(406);
    expect((await app.inject({ url: '/taxii2/', headers: { ...basic('cert-x'), accept: 'application/taxii+json' } })).statusCode).toBe(200);
  });

  it('accepts a bearer <partner id>.<secret> as well', async () => {
    const res = await app.inject({ url: '/taxii2/mamori/collections/', headers: { authorization: `Bearer cert-x.${partnerSecret('cert-x')}` } });
    expect(res.statusCode).toBe(200);
  });
});

describe('collections per partner', () => {
  let x: string;
  let y: string;
  beforeAll(async () => {
    const cx = (await get('/taxii2/mamori/collections/', basic('cert-x'))).body.collections;
    const cy = (await get('/taxii2/mamori/collections/', basic('cert-y'))).body.collections;
    expect(cx).toHaveLength(1);
    expect(cy).toHaveLength(1);
    x = cx[0].id;
    y = cy[0].id;
    expect(cx[0]).toMatchObject({ can_read: true, can_write: false, media_types: ['application/stix+json;version=2.1'] });
  });

  it('partner A can neither list nor read partner B’s collection', async () => {
    expect(x).not.toBe(y);
    for (const path of ['', 'objects/', 'manifest/']) {
      const res = await app.inject({ url: `/taxii2/mamori/collections/${y}/${path}`, headers: basic('cert-x') });
      expect(res.statusCode, path).toBe(404);
      expect(res.headers['content-type']).toBe(TAXII);
      expect(res.json().http_status).toBe('404');
    }
    expect((await get(`/taxii2/mamori/collections/${x}/`, basic('cert-x'))).body.id).toBe(x);
  });

  it('a collection exposes only what was shared with that partner, with its TLP', async () => {
    const objects = (await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000`, basic('cert-x'))).body.objects;
    const patterns = objects.filter((o: { type: string }) => o.type === 'indicator').map((o: { pattern: string }) => o.pattern);
    expect(patterns.sort()).toEqual(sharedWithX.map((v) => `[ipv4-addr:value = '${v}']`).sort());
    const yPatterns = (await get(`/taxii2/mamori/collections/${y}/objects/?limit=1000`, basic('cert-y'))).body.objects.filter((o: { type: string }) => o.type === 'indicator').map((o: { pattern: string }) => o.pattern);
    expect(yPatterns.sort()).toEqual(["[ipv4-addr:value = '45.67.10.1']", "[ipv4-addr:value = '45.67.15.1']", "[ipv4-addr:value = '45.67.20.1']", "[ipv4-addr:value = '45.67.5.1']", "[ipv4-addr:value = '46.1.1.1']"]);
    const z = (await get('/taxii2/mamori/collections/', basic('cert-z'))).body.collections[0].id;
    const zObjects = (await get(`/taxii2/mamori/collections/${z}/objects/`, basic('cert-z'))).body.objects;
    expect(JSON.stringify(zObjects)).not.toContain('45.67.');
    expect(zObjects.filter((o: { type: string }) => o.type === 'indicator').map((o: { pattern: string }) => o.pattern)).toEqual(["[ipv4-addr:value = '47.1.1.1']"]);
    const green = objects.find((o: { pattern?: string }) => o.pattern === "[ipv4-addr:value = '45.67.2.1']");
    expect(green.object_marking_refs).toEqual(['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb']);
    expect(objects.some((o: { id: string }) => o.id === 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb')).toBe(true);
    expect(objects.some((o: { id: string }) => o.id === 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421')).toBe(true);
  });

  it('pages with limit and next: complete, in date_added order, no object twice, with X-TAXII-Date-Added headers', async () => {
    const all = (await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000`, basic('cert-x'))).body;
    expect(all.more).toBe(false);
    expect(all.next).toBeUndefined();
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    let lastAdded = '';
    do {
      const { res, body } = await get(`/taxii2/mamori/collections/${x}/objects/?limit=4${next ? `&next=${encodeURIComponent(next)}` : ''}`, basic('cert-x'));
      expect(res.statusCode).toBe(200);
      expect(body.objects.length).toBeLessThanOrEqual(4);
      const first = String(res.headers['x-taxii-date-added-first']);
      const last = String(res.headers['x-taxii-date-added-last']);
      expect(first <= last).toBe(true);
      expect(first >= lastAdded).toBe(true);
      lastAdded = last;
      seen.push(...body.objects.map((o: { id: string }) => o.id));
      next = body.more ? body.next : undefined;
      if (body.more) expect(typeof body.next).toBe('string');
      pages++;
    } while (next);
    expect(pages).toBe(Math.ceil(all.objects.length / 4));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.objects.map((o: { id: string }) => o.id));
  });

  it('added_after splits the collection without overlap or gap', async () => {
    const manifest = (await get(`/taxii2/mamori/collections/${x}/manifest/?limit=1000`, basic('cert-x'))).body.objects as { id: string; date_added: string }[];
    const pivot = manifest[Math.floor(manifest.length / 2)]!.date_added;
    const { res, body } = await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000&added_after=${encodeURIComponent(pivot)}`, basic('cert-x'));
    const after = body.objects.map((o: { id: string }) => o.id);
    const before = manifest.filter((m) => m.date_added <= pivot).map((m) => m.id);
    expect(after.length).toBeGreaterThan(0);
    expect(before.filter((id) => after.includes(id))).toEqual([]);
    expect([...before, ...after].sort()).toEqual(manifest.map((m) => m.id).sort());
    expect(String(res.headers['x-taxii-date-added-first']) > pivot).toBe(true);
    // added_after the last object: nothing, and no date headers.
    const end = await get(`/taxii2/mamori/collections/${x}/objects/?added_after=${encodeURIComponent(manifest[manifest.length - 1]!.date_added)}`, basic('cert-x'));
    expect(end.body).toEqual({ more: false, objects: [] });
    expect(end.res.headers['x-taxii-date-added-first']).toBeUndefined();
  });

  it('the manifest matches the objects (ids, versions, media types), page by page', async () => {
    for (const q of ['limit=1000', 'limit=5', 'limit=5&match[type]=indicator']) {
      const objects = (await get(`/taxii2/mamori/collections/${x}/objects/?${q}`, basic('cert-x'))).body;
      const manifest = (await get(`/taxii2/mamori/collections/${x}/manifest/?${q}`, basic('cert-x'))).body;
      expect(manifest.more).toBe(objects.more);
      expect(manifest.objects.map((m: { id: string }) => m.id)).toEqual(objects.objects.map((o: { id: string }) => o.id));
      for (const [i, m] of manifest.objects.entries()) {
        const o = objects.objects[i];
        expect(m.version).toBe(o.modified ?? o.created);
        expect(m.media_type).toBe('application/stix+json;version=2.1');
        expect(m.date_added).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      }
    }
  });

  it('filters by match[type] and match[id]', async () => {
    const indicators = (await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000&match[type]=indicator`, basic('cert-x'))).body.objects;
    expect(indicators).toHaveLength(sharedWithX.length);
    expect(indicators.every((o: { type: string }) => o.type === 'indicator')).toBe(true);
    const ids = [indicators[0].id, indicators[3].id];
    const byId = (await get(`/taxii2/mamori/collections/${x}/objects/?match[id]=${ids.join(',')}`, basic('cert-x'))).body.objects;
    expect(byId.map((o: { id: string }) => o.id).sort()).toEqual([...ids].sort());
    expect((await get(`/taxii2/mamori/collections/${x}/objects/?match[type]=malware`, basic('cert-x'))).body.objects).toEqual([]);
    const one = await get(`/taxii2/mamori/collections/${x}/objects/${ids[0]}/`, basic('cert-x'));
    expect(one.res.statusCode).toBe(200);
    expect(one.body.objects.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    expect((await app.inject({ url: `/taxii2/mamori/collections/${x}/objects/indicator--00000000-0000-5000-8000-000000000000/`, headers: basic('cert-x') })).statusCode).toBe(404);
    // Another partner cannot fetch it through its own collection either.
    const y = (await get('/taxii2/mamori/collections/', basic('cert-z'))).body.collections[0].id;
    expect((await app.inject({ url: `/taxii2/mamori/collections/${y}/objects/${ids[0]}/`, headers: basic('cert-z') })).statusCode).toBe(404);
  });

  it('rejects a bad added_after or next with a 400 TAXII error', async () => {
    for (const q of ['added_after=yesterday', 'next=garbage', 'limit=0']) {
      const res = await app.inject({ url: `/taxii2/mamori/collections/${x}/objects/?${q}`, headers: basic('cert-x') });
      expect(res.statusCode, q).toBe(400);
      expect(res.headers['content-type']).toBe(TAXII);
      expect(res.json()).toMatchObject({ http_status: '400' });
    }
  });

  it('treats injection strings in every parameter as plain values: a 400 TAXII error or nothing from another collection', async () => {
    const injections = ["' OR 1=1 --", "x'; DROP TABLE mamori_taxii_test.decision_versions; --", '\\', '%', '_', '{orgIds:Array(String)}', "') UNION SELECT * FROM system.users --"];
    const own = (await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000`, basic('cert-x'))).body.objects.length;
    for (const value of injections) {
      const v = encodeURIComponent(value);
      for (const q of ['added_after', 'next', 'match[type]', 'match[id]', 'match[version]', 'match[spec_version]']) {
        for (const path of ['objects/', 'manifest/']) {
          const res = await app.inject({ url: `/taxii2/mamori/collections/${x}/${path}?${encodeURIComponent(q)}=${v}`, headers: basic('cert-x') });
          expect([200, 400], `${path} ${q}=${value}`).toContain(res.statusCode);
          expect(res.headers['content-type']).toBe(TAXII);
          if (res.statusCode === 200) expect(res.json().objects ?? [], `${path} ${q}=${value}`).toEqual([]);
        }
      }
      for (const url of [`/taxii2/mamori/collections/${v}/`, `/taxii2/mamori/collections/${v}/objects/`, `/taxii2/mamori/collections/${x}/objects/${v}/`]) {
        expect((await app.inject({ url, headers: basic('cert-x') })).statusCode, url).toBe(404);
      }
      // A hostile user name is only a wrong credential.
      expect((await app.inject({ url: '/taxii2/mamori/collections/', headers: basic(value, partnerSecret('cert-x')) })).statusCode).toBe(401);
    }
    // The tables are intact and partner X still sees exactly its own collection.
    expect((await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000`, basic('cert-x'))).body.objects).toHaveLength(own);
  });

  it('bounds a huge page to 1000 objects', async () => {
    const res = await get(`/taxii2/mamori/collections/${x}/objects/?limit=100000`, basic('cert-x'));
    expect(res.res.statusCode).toBe(200);
    expect(res.body.objects.length).toBeGreaterThan(0);
    expect(res.body.objects.length).toBeLessThanOrEqual(1000);
    expect((await app.inject({ url: `/taxii2/mamori/collections/${x}/objects/?limit=1000000`, headers: basic('cert-x') })).statusCode).toBe(400);
  });

  it('a revoked share leaves the collection', async () => {
    const list = (await app.inject({ url: '/v1/decisions?action=share&indicator_value=45.67.1.1', headers: analyst('a') })).json().decisions;
    expect(list).toHaveLength(1);
    const revoke = await app.inject({ method: 'POST', url: `/v1/decisions/${list[0].id}/revoke`, headers: analyst('a'), payload: { reason: 'partner agreement ended for this one' } });
    expect(revoke.statusCode).toBe(200);
    const objects = (await get(`/taxii2/mamori/collections/${x}/objects/?limit=1000&match[type]=indicator`, basic('cert-x'))).body.objects;
    expect(objects.map((o: { pattern: string }) => o.pattern)).not.toContain("[ipv4-addr:value = '45.67.1.1']");
    expect(objects).toHaveLength(sharedWithX.length - 1);
  });
});
