import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Sigma correlations in the real pipeline: a rule pack with a Zeek conn base rule (rejected
 * connections) and an event_count correlation (>= 10 from one source within 5 minutes) goes into
 * DETECTOR_RULES_DIRS; raw Zeek conn lines go through real Kafka, the normalizer, the detector's
 * correlation stages (repartition and changelog topics created at start-up) and the writer into
 * chDB, and the detection comes back from the API. Only some events partitions receive events:
 * the idleness timeout is what lets the windows close when input stops.
 */
const brokers = inject('kafkaBrokers');
const dataDir = mkdtempSync(join(tmpdir(), 'mamori-e2e-corr-'));
const rulesDir = mkdtempSync(join(tmpdir(), 'mamori-e2e-corr-rules-'));
const SECRET = 'e2e-secret-corr-0123456789abcdef';
const SENSOR = 'e2e-zeek-corr';
const RUN = randomUUID().slice(0, 8);
const CORRELATION_ID = '5d1e7a52-2c1b-4f61-9a0e-000000000002';
const T0 = Date.now() - 20 * 60_000;
const ATTACKER = '203.0.113.50';
const BELOW = '203.0.113.60';

const RULES = `title: Rejected connection attempt
id: 5d1e7a52-2c1b-4f61-9a0e-000000000001
name: rejected_connection
status: test
logsource:
  product: zeek
  service: conn
detection:
  selection:
    conn_state: REJ
  condition: selection
level: low
---
title: Many rejected connections from one source
id: ${CORRELATION_ID}
correlation:
  type: event_count
  rules:
    - rejected_connection
  group-by:
    - org_id
    - id.orig_h
  timespan: 5m
  condition:
    gte: 10
level: high
`;

interface ApiDetection {
  id: string;
  rule_id: string;
  org_id: string;
  count: number;
  first_seen: string;
  last_seen: string;
  entity: { type: string; value: string } | string;
  attributes: Record<string, string>;
}

const conn = (ts: number, src: string, dst: string, port: number, state: string, n: number): string =>
  JSON.stringify({ ts: ts / 1000, uid: `C${RUN}${n}`, 'id.orig_h': src, 'id.orig_p': 40000 + n, 'id.resp_h': dst, 'id.resp_p': port, proto: 'tcp', conn_state: state, duration: 0.001, orig_bytes: 0, resp_bytes: 0 });

let running: RunningServices;
let attackerTimes: number[] = [];

beforeAll(async () => {
  writeFileSync(join(rulesDir, 'rejected.yml'), RULES);
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_API_KEYS: `e2e:${hashSecret(SECRET)}:viewer:*`,
    MAMORI_TOPIC_PARTITIONS: '3',
    MAMORI_TOPIC_EVENTS: `e2e.${RUN}.events`,
    MAMORI_TOPIC_DETECTIONS: `e2e.${RUN}.detections`,
    MAMORI_TOPIC_CORRELATION_REPARTITION: `e2e.${RUN}.repartition`,
    MAMORI_TOPIC_CORRELATION_STATE: `e2e.${RUN}.state`,
    DETECTOR_RULES_DIRS: rulesDir,
    DETECTOR_IDLE_CLOSE_MS: '1500',
    DETECTOR_CORRELATION_IDLE_SOURCE_MS: '2000',
  };
  running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });

  const lines: string[] = [];
  let n = 0;
  // Ordinary traffic from a few hosts, one lone rejection among it.
  for (let i = 0; i < 60; i++) lines.push(conn(T0 + i * 5_000, `10.0.0.${(i % 4) + 10}`, '198.51.100.7', 443, i === 30 ? 'REJ' : 'SF', n++));
  // The attacker: 12 rejected connections to SSH within 2 minutes.
  for (let i = 0; i < 12; i++) {
    attackerTimes.push(T0 + 60_000 + i * 10_000);
    lines.push(conn(T0 + 60_000 + i * 10_000, ATTACKER, '10.0.0.5', 22, 'REJ', n++));
  }
  // Below the threshold: 9 rejections within 5 minutes.
  for (let i = 0; i < 9; i++) lines.push(conn(T0 + 90_000 + i * 20_000, BELOW, '10.0.0.5', 22, 'REJ', n++));
  lines.sort((a, b) => (JSON.parse(a) as { ts: number }).ts - (JSON.parse(b) as { ts: number }).ts);
  const producer = running.transport.producer({ clientId: 'e2e-corr-sensor' });
  await producer.connect();
  await producer.send(TOPICS.rawZeekConn, lines.map((value) => ({ key: SENSOR, value, headers: { 'mamori.sensor_id': SENSOR } })));
  await producer.close();
}, 180_000);

afterAll(async () => {
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(rulesDir, { recursive: true, force: true });
});

async function apiDetections(): Promise<ApiDetection[]> {
  const res = await fetch(`${running.apiUrl}/v1/detections?limit=200`, { headers: { authorization: `Bearer e2e.${SECRET}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { detections: ApiDetection[] }).detections;
}

const correlationOnes = (all: ApiDetection[]) => all.filter((d) => d.rule_id === CORRELATION_ID);

describe('Sigma correlation in the running pipeline', () => {
  it('reports the source over the threshold once, with its group and count, and nothing for the source below it', async () => {
    let found: ApiDetection[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      found = correlationOnes(await apiDetections());
      if (found.length > 0) break;
      await sleep(1000);
    }
    // Give a wrongly reported below-threshold group the time to show up too.
    await sleep(4000);
    found = correlationOnes(await apiDetections());
    expect(found).toHaveLength(1);
    const d = found[0]!;
    expect(d.attributes['group.id.orig_h']).toBe(ATTACKER);
    expect(d.attributes['group.org_id']).toBe('default');
    expect(d.attributes['correlation_type']).toBe('event_count');
    expect(d.org_id).toBe('default');
    // Sliding window: the correlation fires at the fact that reaches the threshold (the 10th),
    // and the group stays quiet for a timespan after it: one detection for the burst.
    expect(d.count).toBe(10);
    expect(d.attributes['value']).toBe('10');
    expect(Date.parse(d.first_seen)).toBe(attackerTimes[0]);
    expect(Date.parse(d.last_seen)).toBe(attackerTimes[9]);
    expect(JSON.stringify(found)).not.toContain(BELOW);
    // The base rule only feeds the correlation (no `generate: true`): no stand-alone Sigma detections.
    expect((await apiDetections()).filter((x) => x.rule_id === 'sigma:5d1e7a52-2c1b-4f61-9a0e-000000000001')).toEqual([]);
  }, 150_000);

  it('exposes the correlation metrics on the shared registry', async () => {
    const text = await running.registry.metrics();
    expect(text).toMatch(/mamori_correlation_matches_total\{correlation_type="event_count"\} 1/);
    expect(text).toContain('mamori_correlation_open_windows');
  });
});
