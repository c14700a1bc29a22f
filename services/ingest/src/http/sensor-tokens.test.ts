import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { parseInventory } from '@mamori/inventory';
import { Registry } from '@mamori/metrics';
import { DEAD_LETTER_TOPIC } from '@mamori/pipeline';
import { createMemoryTransport, MemoryBroker } from '@mamori/transport/memory';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIngest } from '../app.ts';
import { loadIngestConfig } from '../config.ts';
import { normalizerTopics } from './server.ts';
import { anyAuthenticator, hashSensorToken, inventoryAuthenticator, parseSensorTokens, tokenAuthenticator } from './sensor-tokens.ts';

const HQ_TOKEN = 'hq-sensor-token-0123456789abcdef';
const EDGE_TOKEN = 'edge-token:with-colon-0123456789';
const ENV_TOKEN = 'env-listed-token-0123456789abcd';

function inventoryYaml(tokens: Record<string, string>): string {
  const sensors = Object.entries(tokens)
    .map(([id, token]) => `  - id: ${id}\n    org: acme\n    site: hq\n    ingest_token_sha256: ${hashSensorToken(token)}`)
    .join('\n');
  return `organizations:\n  - id: acme\nsensors:\n${sensors}\n  - id: no-token\n    org: acme\n    site: hq\n`;
}

const basic = (id: string, token: string) => `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}`;

describe('ingest tokens from the sensor registry', () => {
  const inventory = parseInventory(inventoryYaml({ 'zeek-hq-1': HQ_TOKEN, 'edge.2': EDGE_TOKEN }));
  const authenticate = inventoryAuthenticator(() => inventory);

  it('accepts Basic <sensor id>:<token> and Bearer <sensor id>:<token> of a registered sensor', () => {
    expect(authenticate(basic('zeek-hq-1', HQ_TOKEN))).toEqual({ ok: true, sensorId: 'zeek-hq-1' });
    expect(authenticate(`Bearer zeek-hq-1:${HQ_TOKEN}`)).toEqual({ ok: true, sensorId: 'zeek-hq-1' });
    // A token may hold ':'; the sensor id never does, so the first ':' splits.
    expect(authenticate(basic('edge.2', EDGE_TOKEN))).toEqual({ ok: true, sensorId: 'edge.2' });
  });

  it('refuses the wrong token, another sensor, an unknown sensor or one without a token (403)', () => {
    expect(authenticate(basic('zeek-hq-1', EDGE_TOKEN))).toEqual({ ok: false, status: 403 });
    expect(authenticate(basic('edge.2', HQ_TOKEN))).toEqual({ ok: false, status: 403 });
    expect(authenticate(basic('nobody', HQ_TOKEN))).toEqual({ ok: false, status: 403 });
    expect(authenticate(basic('no-token', HQ_TOKEN))).toEqual({ ok: false, status: 403 });
    expect(inventoryAuthenticator(() => undefined)(basic('zeek-hq-1', HQ_TOKEN))).toEqual({ ok: false, status: 403 });
  });

  it('answers 401 to missing or malformed credentials', () => {
    for (const header of [undefined, '', 'Basic', 'Basic !!!', basic('', HQ_TOKEN), basic('zeek-hq-1', 'short'), `Bearer ${HQ_TOKEN}`, 'Digest x', `Bearer bad id:${HQ_TOKEN}`, 'x'.repeat(2000)]) {
      expect(authenticate(header), String(header)).toMatchObject({ ok: false, status: 401 });
    }
  });

  it('reads the registry on every request, so a reload applies to the next one', () => {
    let current = inventory;
    const live = inventoryAuthenticator(() => current);
    expect(live(basic('zeek-hq-1', HQ_TOKEN)).ok).toBe(true);
    current = parseInventory(inventoryYaml({ 'zeek-hq-1': 'rotated-token-0123456789abcdef' }));
    expect(live(basic('zeek-hq-1', HQ_TOKEN))).toEqual({ ok: false, status: 403 });
    expect(live(basic('zeek-hq-1', 'rotated-token-0123456789abcdef')).ok).toBe(true);
  });

  it('combines with INGEST_SENSOR_TOKENS: either accepts; 403 beats 401', () => {
    const both = anyAuthenticator([tokenAuthenticator(parseSensorTokens(`env-sensor:${hashSensorToken(ENV_TOKEN)}`)), authenticate]);
    expect(both(`Bearer ${ENV_TOKEN}`)).toEqual({ ok: true, sensorId: 'env-sensor' });
    expect(both(basic('zeek-hq-1', HQ_TOKEN))).toEqual({ ok: true, sensorId: 'zeek-hq-1' });
    expect(both(`Bearer wrong-token-0123456789abcdef`)).toEqual({ ok: false, status: 403 });
    expect(both(undefined)).toEqual({ ok: false, status: 401 });
  });
});

describe('ingest config with MAMORI_INVENTORY_FILE', () => {
  it('lets the HTTP endpoint run on inventory tokens alone, and names both ways when neither is set', () => {
    const config = loadIngestConfig({ INGEST_HTTP_PORT: '18080', MAMORI_INVENTORY_FILE: '/etc/mamori/inventory.yaml' });
    expect(config.http.inventoryFile).toBe('/etc/mamori/inventory.yaml');
    expect(config.http.inventoryReloadDebounceMs).toBe(500);
    expect(() => loadIngestConfig({ INGEST_HTTP_PORT: '18080' })).toThrow(/MAMORI_INVENTORY_FILE.*INGEST_SENSOR_TOKENS/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('the ingest service authenticates HTTP sensors from the inventory file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-ingest-inventory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts registered sensors, keeps INGEST_SENSOR_TOKENS working, and follows a token rotation in the file', async () => {
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, inventoryYaml({ 'zeek-hq-1': HQ_TOKEN }));
    const port = await freePort();
    const config = loadIngestConfig({
      INGEST_HTTP_PORT: String(port),
      MAMORI_INVENTORY_FILE: file,
      MAMORI_INVENTORY_RELOAD_DEBOUNCE_MS: '50',
      INGEST_SENSOR_TOKENS: `env-sensor:${hashSensorToken(ENV_TOKEN)}`,
    });
    const broker = new MemoryBroker();
    const transport = createMemoryTransport(broker);
    await transport.admin().ensureTopics([...normalizerTopics(), DEAD_LETTER_TOPIC].map((topic) => ({ topic })));
    const producer = transport.producer();
    await producer.connect();
    const ingest = buildIngest(config, { producer, registry: new Registry(), logger: silentLogger() });
    await ingest.start();
    try {
      const send = (authorization: string) =>
        fetch(`http://127.0.0.1:${port}/v1/ingest/zeek/conn`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body: '{"a":1}\n' });
      expect((await send(basic('zeek-hq-1', HQ_TOKEN))).status).toBe(202);
      expect((await send(`Bearer ${ENV_TOKEN}`)).status).toBe(202);
      expect((await send(basic('zeek-hq-1', ENV_TOKEN))).status).toBe(403);
      const records = broker.topics.get('telemetry.raw.zeek.conn')?.flat() ?? [];
      expect(records.map((r) => r.headers['mamori.sensor_id']!.toString())).toEqual(['zeek-hq-1', 'env-sensor']);

      // Rotate the token in the file: the watcher reloads it and the old token stops working.
      const rotated = 'rotated-token-0123456789abcdef';
      writeFileSync(file, inventoryYaml({ 'zeek-hq-1': rotated }));
      const deadline = Date.now() + 10_000;
      while ((await send(basic('zeek-hq-1', rotated))).status !== 202 && Date.now() < deadline) await sleep(50);
      expect((await send(basic('zeek-hq-1', rotated))).status).toBe(202);
      expect((await send(basic('zeek-hq-1', HQ_TOKEN))).status).toBe(403);
    } finally {
      await ingest.close();
    }
  });

  it('refuses to start on a bad inventory file, naming the problem', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'organizations:\n  - id: acme\nsensors:\n  - id: s1\n    org: nope\n    site: hq\n');
    const config = loadIngestConfig({ INGEST_HTTP_PORT: '18081', MAMORI_INVENTORY_FILE: file });
    const broker = new MemoryBroker();
    expect(() => buildIngest(config, { producer: createMemoryTransport(broker).producer(), registry: new Registry(), logger: silentLogger() })).toThrow(/nope/);
  });
});
