import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport, loadRuntimeConfig } from '@mamori/cli';
import { silentLogger, sleep } from '@mamori/core';
import { EventCodec, type MamoriEvent } from '@mamori/events';
import { InventoryStore } from '@mamori/inventory';
import { createRegistry } from '@mamori/metrics';
import { buildNormalizer, formatForTopic, loadNormalizerConfig } from '@mamori/normalizer';
import { StageRunner, TOPICS, readDeadLetter, type DeadLetterInfo } from '@mamori/pipeline';
import type { OutgoingMessage, Producer, Transport } from '@mamori/transport';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropTopics, metricValue, readTopic } from '../harness/index.ts';

/**
 * Records in = records normalized + records dead-lettered, through the sensor registry, on the real
 * broker. The stage runs over topics of its own (a fresh raw, events and dead-letter topic), so it
 * neither sees nor leaves data for the other tests that share the broker.
 */
const brokers = inject('kafkaBrokers');
const RUN = `${Date.now()}`;
const RAW = `recon.raw.zeek.conn.${RUN}`;
const EVENTS = `recon.events.${RUN}`;
const DLQ = `recon.dlq.${RUN}`;
const dir = mkdtempSync(join(tmpdir(), 'mamori-recon-'));
const inventoryFile = join(dir, 'inventory.yaml');
writeFileSync(inventoryFile, `organizations: [{ id: acme, name: ACME }]
sensors:
  - { id: reg-1, org: acme, site: hq }
  - { id: wrong-format, org: acme, site: hq, formats: [suricata.eve] }
home_networks: { acme: [10.0.0.0/8] }
`);

const line = (i: number, src = '10.1.0.1') =>
  JSON.stringify({ ts: 1517422326 + i, uid: `C${i}`, 'id.orig_h': src, 'id.orig_p': 40000 + i, 'id.resp_h': '93.184.216.34', 'id.resp_p': 443, proto: 'tcp', conn_state: 'SF' });

interface Sent {
  sensor: string;
  value: string | Buffer | null;
  /** Dead-letter code expected, or undefined when the record must be normalized. */
  code?: string;
  events: number;
}

const oversize = `${line(900)}\n${'x'.repeat(1024 * 1024 + 10)}`;
const SENT: Sent[] = [
  ...Array.from({ length: 20 }, (_, i): Sent => ({ sensor: 'reg-1', value: line(i), events: 1 })),
  { sensor: 'reg-1', value: [line(100), line(101), line(102)].join('\n'), events: 3 },
  { sensor: 'reg-1', value: 'garbage, not json', code: 'PARSE_FAILED', events: 0 },
  { sensor: 'reg-1', value: '{"ts":', code: 'PARSE_FAILED', events: 0 },
  { sensor: 'reg-1', value: `${line(200)}\nnot json`, code: 'PARSE_FAILED', events: 1 },
  { sensor: 'reg-1', value: oversize, code: 'RECORD_TOO_LARGE', events: 0 },
  // Numbers an event cannot hold once failed the Avro encode and so the whole batch, on every retry.
  { sensor: 'reg-1', value: line(500).replace(/"ts":\d+/, '"ts":1e300'), code: 'FIELD_INVALID', events: 0 },
  { sensor: 'reg-1', value: [line(501), line(502).replace(/"ts":\d+/, '"ts":"9999-12-31T23:59:59Z"')].join('\n'), code: 'FIELD_INVALID', events: 1 },
  { sensor: 'reg-1', value: line(503).replace('"conn_state"', '"orig_bytes":9223372036854775808,"conn_state"'), code: 'FIELD_INVALID', events: 0 },
  { sensor: 'reg-1', value: null, code: 'RECORD_EMPTY', events: 0 },
  ...Array.from({ length: 3 }, (_, i): Sent => ({ sensor: 'rogue-sensor', value: line(300 + i), code: 'SENSOR_UNREGISTERED', events: 0 })),
  { sensor: 'wrong-format', value: line(400), code: 'SENSOR_FORMAT_NOT_ALLOWED', events: 0 },
];

let transport: Transport;
let producer: Producer;
let runner: StageRunner;
let inventory: InventoryStore;
const registry = createRegistry();
const codec = new EventCodec();

const readAll = (topic: string, count: number) => readTopic(transport, topic, count);
const metric = metricValue;

beforeAll(async () => {
  const env = { KAFKA_BROKERS: brokers, MAMORI_INVENTORY_FILE: inventoryFile };
  const runtime = loadRuntimeConfig(env);
  transport = await createTransport(runtime, silentLogger());
  const admin = transport.admin();
  await admin.connect();
  // The oversize record and its dead letter are larger than the broker's default 1 MiB limit.
  const big = { 'max.message.bytes': String(4 * 1024 * 1024) };
  await admin.ensureTopics([{ topic: RAW, partitions: 2, config: big }, { topic: EVENTS, partitions: 2 }, { topic: DLQ, partitions: 1, config: big }]);
  await admin.close();
  producer = transport.producer({ clientId: 'recon' });
  await producer.connect();

  const config = { ...loadNormalizerConfig(env), rawTopics: [RAW], eventsTopic: EVENTS };
  expect(config.allowUnregisteredSensors).toBe(false); // the default once an inventory file is configured
  inventory = InventoryStore.open(inventoryFile);
  const zeekConn = formatForTopic(TOPICS.rawZeekConn)!;
  const stage = buildNormalizer(config, {
    eventCodec: codec,
    defaultOrg: 'default',
    inventory,
    registry,
    formatForTopic: (topic) => (topic === RAW ? zeekConn : undefined),
  });
  runner = new StageRunner({ stage, transport, producer, registry, logger: silentLogger(), groupId: `recon-normalizer-${RUN}`, deadLetterTopic: DLQ, maxBatchSize: 7 });
  await runner.start();

  const messages: OutgoingMessage[] = SENT.map((s) => ({ key: s.sensor, value: s.value, headers: { 'mamori.sensor_id': s.sensor } }));
  await producer.send(RAW, messages);
}, 120_000);

afterAll(async () => {
  await runner?.close(10_000);
  await producer?.close();
  inventory?.close();
  await dropTopics(transport, [RAW, EVENTS, DLQ]);
  rmSync(dir, { recursive: true, force: true });
});

describe('normalizer reconciliation through the sensor registry', () => {
  it('counts every record once: received = normalized + dead-lettered, per topic and code', async () => {
    let metrics = await registry.getMetricsAsJSON();
    const deadline = Date.now() + 60_000;
    while (metric(metrics, 'mamori_normalizer_records_total', { topic: RAW }) < SENT.length && Date.now() < deadline) {
      await sleep(200);
      metrics = await registry.getMetricsAsJSON();
    }
    await sleep(300); // the runner counts emitted/dead-lettered after Kafka acknowledged
    metrics = await registry.getMetricsAsJSON();

    const received = metric(metrics, 'mamori_records_received_total', { stage: 'normalizer', topic: RAW });
    const normalized = metric(metrics, 'mamori_normalizer_records_total', { topic: RAW, outcome: 'normalized' });
    const deadLettered = metric(metrics, 'mamori_records_dead_lettered_total', { stage: 'normalizer', topic: RAW });
    expect(received).toBe(SENT.length);
    expect(normalized + deadLettered).toBe(received);
    expect(metric(metrics, 'mamori_normalizer_records_total', { topic: RAW, outcome: 'dead_lettered' })).toBe(deadLettered);
    expect(normalized).toBe(SENT.filter((s) => !s.code).length);

    const byCode: Record<string, number> = {};
    for (const s of SENT) if (s.code) byCode[s.code] = (byCode[s.code] ?? 0) + 1;
    for (const [code, n] of Object.entries(byCode)) {
      expect(metric(metrics, 'mamori_records_dead_lettered_total', { stage: 'normalizer', topic: RAW, error_code: code }), code).toBe(n);
    }
    expect(metric(metrics, 'mamori_records_emitted_total', { stage: 'normalizer', topic: EVENTS })).toBe(SENT.reduce((n, s) => n + s.events, 0));
  }, 90_000);

  it('puts exactly the bad records in the dead-letter topic, with their original bytes and codes', async () => {
    const bad = SENT.filter((s) => s.code);
    const letters: DeadLetterInfo[] = (await readAll(DLQ, bad.length)).map(readDeadLetter);
    expect(letters).toHaveLength(bad.length);
    const digest = (v: string | Buffer | null | undefined) => (v === null || v === undefined || v.length === 0 ? 'empty' : createHash('sha256').update(v).digest('hex'));
    const got = letters.map((l) => `${l.code} ${digest(l.value)}`).sort();
    const want = bad.map((s) => `${s.code} ${digest(s.value)}`).sort();
    expect(got).toEqual(want);
    for (const l of letters) {
      expect(l.stage).toBe('normalizer');
      expect(l.sourceTopic).toBe(RAW);
      expect([0, 1]).toContain(l.sourcePartition);
      expect(l.sourceOffset).toMatch(/^\d+$/);
      expect(l.reason.length).toBeGreaterThan(0);
    }
    expect(letters.find((l) => l.code === 'SENSOR_UNREGISTERED')?.reason).toContain('rogue-sensor');
  }, 60_000);

  it('stamps organization, site and direction from the registry on every event', async () => {
    const expected = SENT.reduce((n, s) => n + s.events, 0);
    const events: MamoriEvent[] = (await readAll(EVENTS, expected)).map((m) => codec.decode(m.value!));
    expect(events).toHaveLength(expected);
    for (const e of events) {
      expect(e).toMatchObject({ org_id: 'acme', site_id: 'hq', sensor_id: 'reg-1', direction: 'outbound' });
      expect(e.community_id).toMatch(/^1:/);
    }
  }, 60_000);
});
