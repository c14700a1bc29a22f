/**
 * Retro-matching wired into the running pipeline (`mamori run all`: real Kafka, normalizer, detector,
 * writer, chDB): events are stored, then a feed refresh adds an indicator that one stored event
 * touched; the detector's retro run finds it and its detection reaches ClickHouse through the
 * detections topic, exactly once. An added indicator that no stored event touched yields nothing,
 * and a refresh that adds nothing runs nothing.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, silentLogger, sleep } from '@mamori/core';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { IntelKnownLog } from '@mamori/detector';
import { TOPICS } from '@mamori/pipeline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const brokers = inject('kafkaBrokers');
const dataDir = mkdtempSync(join(tmpdir(), 'mamori-intel-retro-'));
const feed = join(dataDir, 'feed.txt');
const SENSOR = 'retro-zeek-1';
const T0 = Date.now() - 30 * 60_000;
const HOSTILE = '45.133.1.77';
const INTERNAL = '10.30.0.5';

let running: RunningServices;

const conn = (i: number, src: string, dst: string) =>
  JSON.stringify({ ts: (T0 + i * 1000) / 1000, uid: `Cretro${i}`, 'id.orig_h': src, 'id.orig_p': 40000 + i, 'id.resp_h': dst, 'id.resp_p': 443, proto: 'tcp', duration: 1.5, orig_bytes: 500, resp_bytes: 4000, conn_state: 'SF', orig_pkts: 8, resp_pkts: 7 });

interface Row {
  detection_id: string;
  entity_value: string;
  evidence_event_ids: string[];
  attributes: Record<string, string>;
}

async function intelDetections(): Promise<Row[]> {
  const db = running.storage!.database;
  return running.storage!.query<Row>(`SELECT detection_id, entity_value, evidence_event_ids, attributes FROM ${db}.detections FINAL WHERE rule_id = {rule:String} ORDER BY detection_id`, { rule: 'mamori.intel.indicator_match' });
}

async function retroRuns(): Promise<Record<string, number>> {
  const metric = await running.registry.getSingleMetric('mamori_intel_retro_runs_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels['outcome']), v.value]));
}

const RUN = Date.now().toString(36);

beforeAll(async () => {
  writeFileSync(feed, '# local blocklist\n45.133.200.1\n');
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_TOPIC_PARTITIONS: '2',
    // Own events and detections topics: other test files on this broker use the default ones.
    MAMORI_TOPIC_EVENTS: `retro.${RUN}.events`,
    MAMORI_TOPIC_DETECTIONS: `retro.${RUN}.detections`,
    MAMORI_TOPIC_INTEL_KNOWN: `retro.${RUN}.intel-known`,
    DETECTOR_IDLE_CLOSE_MS: '1500',
    INTEL_FEEDS: `local=list:${feed}`,
    INTEL_RETRO_LOOKBACK_MS: String(24 * 3_600_000),
  };
  running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: process.env['RETRO_TEST_LOG'] ? createLogger({ name: 'retro-test', level: 'warn' }) : silentLogger() });
  const producer = running.transport.producer({ clientId: 'retro-sensor' });
  await producer.connect();
  const lines = [conn(1, INTERNAL, HOSTILE), conn(2, '10.30.0.6', '93.184.216.34'), conn(3, '10.30.0.7', '93.184.216.35')];
  await producer.send(TOPICS.rawZeekConn, lines.map((value) => ({ key: SENSOR, value, headers: { 'mamori.sensor_id': SENSOR } })));
  await producer.close();
  // Wait until the events are stored (the retro run reads them from ClickHouse).
  const db = running.storage!.database;
  const deadline = Date.now() + 200_000;
  for (;;) {
    const rows = await running.storage!.query<{ n: string }>(`SELECT count() AS n FROM ${db}.events FINAL`);
    if (Number(rows[0]!.n) >= lines.length) break;
    if (Date.now() > deadline) throw new Error('events were not stored within 200 s');
    await sleep(500);
  }
}, 300_000);

afterAll(async () => {
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('retro-matching in the running detector', () => {
  it('raises nothing while the address is unknown', async () => {
    await sleep(2000);
    expect(await intelDetections()).toEqual([]);
    expect(await retroRuns()).toEqual({});
  });

  it('reports the stored sighting of a newly added indicator once, marked retro, through the detections topic', async () => {
    appendFileSync(feed, `${HOSTILE}\n45.133.9.9\n`);
    await running.intel!.refresh();
    let rows: Row[] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      rows = await intelDetections();
      if (rows.length > 0) break;
      await sleep(500);
    }
    // Give a duplicate (a second send, a second row) time to show up before asserting "once".
    await sleep(3000);
    rows = await intelDetections();
    expect(rows).toHaveLength(1);
    const d = rows[0]!;
    expect(d.entity_value).toBe(INTERNAL);
    expect(d.attributes['retro']).toBe('true');
    expect(d.attributes['indicator_value']).toBe(HOSTILE);
    expect(d.attributes['matched_field']).toBe('dst_ip');
    const db = running.storage!.database;
    const evidence = await running.storage!.query<{ dst: string }>(`SELECT IPv6NumToString(dst_ip) AS dst FROM ${db}.events FINAL WHERE event_id IN {ids:Array(String)}`, { ids: d.evidence_event_ids });
    expect(evidence.map((e) => e.dst)).toEqual([`::ffff:${HOSTILE}`]);
    expect(await retroRuns()).toEqual({ matched: 1 });
  }, 150_000);

  it('runs nothing for a refresh without new indicators, and finds nothing for an indicator no stored event touched', async () => {
    await running.intel!.refresh();
    expect(await retroRuns()).toEqual({ matched: 1 });
    appendFileSync(feed, '45.133.9.10\nnever-seen.example\n');
    await running.intel!.refresh();
    expect(await retroRuns()).toEqual({ matched: 1, no_match: 1 });
    await sleep(3000);
    expect((await intelDetections()).map((r) => r.attributes['indicator_value'])).toEqual([HOSTILE]);
  }, 60_000);

  it('records the indicators it has retro-matched in the known-indicator topic (what the next start counts from)', async () => {
    const producer = running.transport.producer({ clientId: 'retro-known-check' });
    await producer.connect();
    try {
      const keys = await new IntelKnownLog({ transport: running.transport, producer, topic: `retro.${RUN}.intel-known`, groupPrefix: 'retro-test' }).read();
      const values = [...keys].map((k) => k.split('\u0000')[2]);
      expect(values).toEqual(expect.arrayContaining([HOSTILE, '45.133.9.9', '45.133.9.10', 'never-seen.example']));
    } finally {
      await producer.close();
    }
  }, 60_000);
});
