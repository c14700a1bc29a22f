import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { isProbe } from '@mamori/detector';
import type { MamoriEvent } from '@mamori/events';
import { createSimulator, produceSimulation, type SimulatedRecord } from '@mamori/ingest';
import { formatForTopic, normalizeRecord } from '@mamori/normalizer';
import { DEAD_LETTER_TOPIC, TOPICS, readDeadLetter } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import type { ConsumedMessage } from '@mamori/transport';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The first real path, end to end: simulated Zeek conn logs with two port scans go through real
 * Kafka, the normalizer, the detector and the writer into embedded ClickHouse, and come back from
 * the API. Ordinary traffic must raise nothing.
 */
const brokers = inject('kafkaBrokers');
const dataDir = mkdtempSync(join(tmpdir(), 'mamori-e2e-'));
const SECRET = 'e2e-secret-0123456789abcdef';
const T0 = Date.now() - 15 * 60_000;
const SENSOR = 'e2e-zeek-1';

interface ApiDetection {
  id: string;
  rule_id: string;
  org_id: string;
  src_ip: string;
  count: number;
  first_seen: string;
  last_seen: string;
  evidence: { event_id: string }[];
  attributes: Record<string, string>;
}

let running: RunningServices;
let records: SimulatedRecord[];
let attackers: readonly string[];
const garbage = ['this is not json', '{"ts":1700000000.1,"uid":"C1","id.orig_h":"10.20.0.99","id.orig_p":99999,"id.resp_h":"10.20.0.2","id.resp_p":53,"proto":"udp"}', '{"ts":'];

beforeAll(async () => {
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_API_KEYS: `e2e:${hashSecret(SECRET)}:viewer:*`,
    MAMORI_TOPIC_PARTITIONS: '3',
    DETECTOR_IDLE_CLOSE_MS: '1500',
  };
  running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });

  const simulator = createSimulator({
    seed: 42,
    startTime: T0,
    ratePerSecond: 40,
    durationMs: 5 * 60_000,
    attacks: [
      { kind: 'horizontal_scan', at: 60_000, targets: 50, ports: [445], durationMs: 20_000 },
      { kind: 'vertical_scan', at: 180_000, ports: 60, durationMs: 10_000 },
    ],
  });
  records = [...simulator];
  attackers = simulator.attackSources;
  const producer = running.transport.producer({ clientId: 'e2e-sensor' });
  await producer.connect();
  await produceSimulation(producer, records, { topic: TOPICS.rawZeekConn, sensorId: SENSOR, ratePerSecond: 0, batchSize: 500 });
  await producer.send(TOPICS.rawZeekConn, garbage.map((value) => ({ key: SENSOR, value, headers: { 'mamori.sensor_id': SENSOR } })));
  await producer.close();
}, 180_000);

afterAll(async () => {
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The simulated lines as the normalizer sees them (pure function, no Kafka). */
function normalizedEvents(): MamoriEvent[] {
  const format = formatForTopic(TOPICS.rawZeekConn)!;
  return records.flatMap((r, i) => normalizeRecord(format, Buffer.from(r.line), { topic: TOPICS.rawZeekConn, partition: 0, offset: i, sensorId: SENSOR, orgId: 'default', ingestTime: T0 }).events);
}

async function apiDetections(): Promise<ApiDetection[]> {
  const res = await fetch(`${running.apiUrl}/v1/detections?limit=100`, { headers: { authorization: `Bearer e2e.${SECRET}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { detections: ApiDetection[] }).detections;
}

function expectedCount(events: MamoriEvent[], src: string, d: ApiDetection): number {
  const from = Date.parse(d.first_seen);
  const to = Date.parse(d.last_seen);
  return events.filter((e) => e.src_ip === src && isProbe(e) && e.time >= from && e.time <= to).length;
}

describe('sensor to analyst: port scans', () => {
  it('detects each scan once, from the right source, with the full evidence count', async () => {
    const events = normalizedEvents();
    const attackProbes = (src: string) => records.filter((r) => r.label !== 'benign' && (JSON.parse(r.line) as Record<string, unknown>)['id.orig_h'] === src).length;

    const lastAttackProbe = (src: string) =>
      Math.max(...records.filter((r) => r.label !== 'benign' && (JSON.parse(r.line) as Record<string, unknown>)['id.orig_h'] === src).map((r) => r.sensorTime));

    // Poll until both detections have reached their final version: the detector reports an episode as
    // it grows and a last time when it closes (input idle), so earlier versions may be read first.
    let detections: ApiDetection[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      detections = await apiDetections();
      const done = attackers.every((src) => {
        const d = detections.find((x) => x.src_ip === src);
        return d !== undefined && Date.parse(d.last_seen) >= lastAttackProbe(src) && d.count === expectedCount(events, src, d);
      });
      if (done || Date.now() > deadline) break;
      await sleep(1000);
    }

    expect(new Set(detections.map((d) => d.src_ip))).toEqual(new Set(attackers));
    expect(detections).toHaveLength(2);
    for (const src of attackers) {
      const d = detections.find((x) => x.src_ip === src)!;
      expect(d.rule_id).toBe('mamori.network.port_scan');
      expect(d.org_id).toBe('default');
      expect(d.count).toBe(expectedCount(events, src, d));
      // Every probe of the attack is in the episode; at most a few of the host's ordinary failed connections join it.
      expect(d.count).toBeGreaterThanOrEqual(attackProbes(src));
      expect(d.count).toBeLessThanOrEqual(attackProbes(src) + 5);
      expect(d.evidence.length).toBeGreaterThan(0);
    }
    const horizontal = detections.find((d) => d.src_ip === attackers[0])!;
    expect(horizontal.attributes['kind']).toBe('horizontal');
    expect(Number(horizontal.attributes['distinct_hosts'])).toBeGreaterThanOrEqual(50);
    const vertical = detections.find((d) => d.src_ip === attackers[1])!;
    expect(vertical.attributes['kind']).toBe('vertical');
    expect(Number(vertical.attributes['distinct_ports'])).toBeGreaterThanOrEqual(60);

    // The evidence points at stored events.
    const ids = detections.flatMap((d) => d.evidence.map((e) => e.event_id));
    const stored = await running.storage!.query<{ n: string }>(
      `SELECT count() AS n FROM ${running.storage!.database}.events FINAL WHERE event_id IN {ids:Array(String)}`,
      { ids },
    );
    expect(Number(stored[0]!.n)).toBe(new Set(ids).size);
  }, 150_000);

  it('accounts for every record: events stored plus dead letters equal records in', async () => {
    const goodLines = normalizedEvents().length;
    expect(goodLines).toBe(records.length);
    const db = running.storage!.database;
    let stored = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const rows = await running.storage!.query<{ n: string }>(`SELECT count() AS n FROM ${db}.events FINAL`);
      stored = Number(rows[0]!.n);
      if (stored >= goodLines) break;
      await sleep(500);
    }
    expect(stored).toBe(goodLines);

    // The three bad records are in the dead-letter topic with their original bytes and a reason.
    const letters: ConsumedMessage[] = [];
    const consumer = running.transport.consumer({ groupId: `e2e-dlq-${Date.now()}`, topics: [DEAD_LETTER_TOPIC], fromBeginning: true, maxWaitMs: 100 });
    await consumer.connect();
    await consumer.run(async (batch) => {
      letters.push(...batch.messages);
    });
    const until = Date.now() + 30_000;
    while (letters.filter((m) => m.headers['mamori.sensor_id']?.toString('utf8') === SENSOR).length < garbage.length && Date.now() < until) await sleep(200);
    await consumer.close();
    // The dead-letter topic is shared by every test on this broker: keep this test's sensor's letters.
    const ours = letters.filter((m) => m.headers['mamori.sensor_id']?.toString('utf8') === SENSOR);
    const infos = ours.map(readDeadLetter).filter((l) => l.sourceTopic === TOPICS.rawZeekConn);
    expect(infos.map((l) => l.value?.toString()).sort()).toEqual([...garbage].sort());
    expect(new Set(infos.map((l) => l.code))).toEqual(new Set(['PARSE_FAILED', 'FIELD_INVALID']));
    for (const l of infos) {
      expect(l.stage).toBe('normalizer');
      expect(l.reason.length).toBeGreaterThan(0);
    }

    // Metrics reconcile: records in = records normalized + records dead-lettered.
    const metrics = await running.registry.getMetricsAsJSON();
    const value = (name: string, labels: Record<string, string>) =>
      (metrics.find((m) => m.name === name)?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
        .reduce((sum, v) => sum + v.value, 0);
    const received = value('mamori_records_received_total', { stage: 'normalizer', topic: TOPICS.rawZeekConn });
    const dead = value('mamori_records_dead_lettered_total', { stage: 'normalizer', topic: TOPICS.rawZeekConn });
    expect(received).toBe(records.length + garbage.length);
    expect(dead).toBe(garbage.length);
    expect(value('mamori_records_emitted_total', { stage: 'normalizer', topic: TOPICS.events })).toBe(records.length);
  }, 120_000);

  it('has committed the input offsets of every stage once the data is held downstream', async () => {
    const admin = running.transport.admin();
    await admin.connect();
    try {
      const end = await admin.endOffsets(TOPICS.rawZeekConn);
      const deadline = Date.now() + 30_000;
      let committed: { partition: number; offset: string }[] = [];
      while (Date.now() < deadline) {
        committed = await admin.committedOffsets('mamori-normalizer', TOPICS.rawZeekConn);
        const lagging = end.some((e) => e.offset !== '0' && committed.find((c) => c.partition === e.partition)?.offset !== e.offset);
        if (!lagging) break;
        await sleep(500);
      }
      for (const e of end) {
        if (e.offset === '0') continue;
        expect(committed.find((c) => c.partition === e.partition)?.offset).toBe(e.offset);
      }
    } finally {
      await admin.close();
    }
  });
});
