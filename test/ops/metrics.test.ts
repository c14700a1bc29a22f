import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger, sleep } from '@mamori/core';
import { createSimulator, produceSimulation } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Metrics compliance: docs/metrics.md and the code define the same metrics, and on a running
 * pipeline every metric has its documented type and labels and no label takes unbounded values.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Documented {
  type: string;
  labels: string[];
}
const documented = new Map<string, Documented>();
for (const line of readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8').split('\n')) {
  const m = /^\| `(mamori_[a-z_]+)` \| (counter|gauge|histogram) \|([a-z_, ]*)\|/.exec(line);
  if (m) documented.set(m[1]!, { type: m[2]!, labels: m[3]!.split(',').map((s) => s.trim()).filter(Boolean) });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}
const defined = new Set<string>();
for (const file of [...sourceFiles(join(ROOT, 'packages')), ...sourceFiles(join(ROOT, 'services'))]) {
  for (const m of readFileSync(file, 'utf8').matchAll(/['`](mamori_[a-z_]+)['`]/g)) {
    // Names used to register metrics, not to read them: exclude prefixes and label-free lookups in tests.
    if (m[1] !== 'mamori_' && /_(total|seconds|records|bytes|entities|indicators|templates|sets|connections|failing|windows|facts|paused|subscribers|rules)$/.test(m[1]!)) defined.add(m[1]!);
  }
}

describe('metrics documentation', () => {
  it('documents every metric the code defines, and only those', () => {
    const undocumented = [...defined].filter((n) => !documented.has(n));
    const stale = [...documented.keys()].filter((n) => !defined.has(n));
    expect({ undocumented, stale }).toEqual({ undocumented: [], stale: [] });
  });
});

describe('metrics on a running pipeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-metrics-'));
  let running: RunningServices;

  beforeAll(async () => {
    const env = {
      KAFKA_BROKERS: inject('kafkaBrokers'),
      MAMORI_DATA_DIR: dir,
      METRICS_PORT: '0',
      API_PORT: '0',
      MAMORI_API_KEYS: `m:${hashSecret('metrics-secret-0123456789')}:viewer:*`,
      METRICS_LAG_INTERVAL_MS: '1000',
      DETECTOR_IDLE_CLOSE_MS: '1000',
      INGEST_SIMULATOR_RATE: '50',
      MAMORI_TOPIC_EVENTS: 'metrics-test.events',
      MAMORI_TOPIC_DETECTIONS: 'metrics-test.detections',
    };
    running = await startServices(['ingest', 'normalizer', 'detector', 'writer', 'query-api'], loadRuntimeConfig(env), env, { logger: silentLogger() });
    const producer = running.transport.producer();
    await producer.connect();
    const simulator = createSimulator({
      seed: 3,
      startTime: Date.now() - 5 * 60_000,
      ratePerSecond: 30,
      durationMs: 3 * 60_000,
      attacks: [{ kind: 'vertical_scan', at: 30_000, ports: 40, durationMs: 5000 }],
    });
    await produceSimulation(producer, simulator, { topic: TOPICS.rawZeekConn, sensorId: 'metrics-sensor', ratePerSecond: 0, batchSize: 500 });
    await producer.send(TOPICS.rawZeekConn, [{ key: 'metrics-sensor', value: 'garbage', headers: { 'mamori.sensor_id': 'metrics-sensor' } }]);
    await producer.close();
    // Exercise the API so its metrics have values, including an auth failure.
    await fetch(`${running.apiUrl}/v1/detections`, { headers: { authorization: 'Bearer m.metrics-secret-0123456789' } });
    await fetch(`${running.apiUrl}/v1/detections`);
    // Generous: on a loaded 2-core machine the first consumer-group joins alone can take tens of seconds.
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline) {
      const emitted = await running.registry.getSingleMetric('mamori_detections_emitted_total')?.get();
      const stored = await running.registry.getSingleMetric('mamori_writer_insert_duration_seconds')?.get();
      const dead = await running.registry.getSingleMetric('mamori_records_dead_lettered_total')?.get();
      if ((emitted?.values.length ?? 0) > 0 && (stored?.values.length ?? 0) > 0 && (dead?.values.length ?? 0) > 0) break;
      await sleep(500);
    }
  }, 240_000);

  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers each metric with its documented type and labels', async () => {
    const all = await running.registry.getMetricsAsJSON();
    const ours = all.filter((m) => m.name.startsWith('mamori_') && !m.name.startsWith('mamori_process_') && !m.name.startsWith('mamori_nodejs_'));
    expect(ours.length).toBeGreaterThan(20);
    for (const metric of ours) {
      const doc = documented.get(metric.name);
      expect(doc, `${metric.name} is not in docs/metrics.md`).toBeDefined();
      expect(metric.type, metric.name).toBe(doc!.type);
      const labelNames = (running.registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames;
      expect([...labelNames].sort(), metric.name).toEqual([...doc!.labels].sort());
    }
    // The pipeline moved: every stage received and emitted, the scan was detected, lag was read.
    const names = new Set(all.filter((m) => m.values.length > 0).map((m) => m.name));
    for (const name of ['mamori_records_received_total', 'mamori_records_emitted_total', 'mamori_records_dead_lettered_total', 'mamori_detections_emitted_total', 'mamori_detection_latency_seconds', 'mamori_consumer_lag_records', 'mamori_sensor_last_seen_timestamp_seconds', 'mamori_api_requests_total', 'mamori_api_auth_failures_total', 'mamori_writer_insert_duration_seconds']) {
      expect(names, name).toContain(name);
    }
  });

  it('never puts an address or an unbounded set of values in a label', async () => {
    for (const metric of await running.registry.getMetricsAsJSON()) {
      if (!metric.name.startsWith('mamori_')) continue;
      const distinct = new Map<string, Set<string>>();
      for (const value of metric.values) {
        for (const [label, v] of Object.entries(value.labels)) {
          if (label === 'le' || label === 'quantile') continue;
          expect(isIP(String(v)), `${metric.name}{${label}="${v}"} is an address`).toBe(0);
          let set = distinct.get(label);
          if (!set) distinct.set(label, (set = new Set()));
          set.add(String(v));
        }
      }
      for (const [label, values] of distinct) expect(values.size, `${metric.name} label ${label}`).toBeLessThanOrEqual(60);
    }
  });
});
