import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { createSimulator, produceSimulation } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../harness/index.ts';
import { SKIP_PROMTOOL } from '../ops/promtool.ts';

/**
 * A real Prometheus (Debian's package) scrapes the running services: the scrape succeeds and the
 * pipeline metrics move when the simulator runs. Alert rules are loaded too, so a broken rule file
 * would stop Prometheus from starting.
 */
const PROMETHEUS = '/usr/bin/prometheus';
const dir = mkdtempSync(join(tmpdir(), 'mamori-prom-'));
let running: RunningServices;
let prometheus: ChildProcess | undefined;
let promUrl = '';

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

describe.skipIf(SKIP_PROMTOOL)('Prometheus scrapes the pipeline', () => {
  beforeAll(async () => {
    const env = {
      KAFKA_BROKERS: inject('kafkaBrokers'),
      MAMORI_DATA_DIR: join(dir, 'data'),
      METRICS_PORT: String(await freePort()),
      API_PORT: '0',
      METRICS_LAG_INTERVAL_MS: '1000',
      MAMORI_TOPIC_EVENTS: 'prom-test.events',
      MAMORI_TOPIC_DETECTIONS: 'prom-test.detections',
    };
    running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${join(process.cwd(), 'deploy/prometheus/alerts.yml')}']`,
        'scrape_configs:',
        `  - job_name: mamori-all\n    static_configs: [{ targets: ['127.0.0.1:${running.metricsPort}'] }]`,
      ].join('\n'),
    );
    prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    promUrl = `http://127.0.0.1:${promPort}`;
    await eventually('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok ? true : undefined));
  }, 180_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes successfully, loads the alert rules, and sees the pipeline move', async () => {
    const up = await eventually('a successful scrape', async () => {
      const r = await query('up{job="mamori-all"}');
      return r[0]?.value[1] === '1' ? r : undefined;
    });
    expect(up).toHaveLength(1);
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
    expect(rules.data.groups.flatMap((g) => g.rules).length).toBeGreaterThanOrEqual(10);

    const before = Number((await query(`sum(mamori_records_received_total{stage="normalizer"})`))[0]?.value[1] ?? 0);
    const producer = running.transport.producer();
    await producer.connect();
    const simulator = createSimulator({ seed: 11, startTime: Date.now() - 60_000, ratePerSecond: 50, durationMs: 60_000 });
    const stats = await produceSimulation(producer, simulator, { topic: TOPICS.rawZeekConn, sensorId: 'prom-sensor', ratePerSecond: 0, batchSize: 500 });
    await producer.close();

    const after = await eventually('normalizer counters to move in Prometheus', async () => {
      const v = Number((await query(`sum(mamori_records_received_total{stage="normalizer"})`))[0]?.value[1] ?? 0);
      return v >= before + stats.produced ? v : undefined;
    });
    expect(after - before).toBeGreaterThanOrEqual(stats.produced);
    await eventually('writer rows to show up', async () => {
      const r = await query(`sum(mamori_records_emitted_total{stage="writer", topic="clickhouse.events"})`);
      return Number(r[0]?.value[1] ?? 0) > 0 ? true : undefined;
    });
    const lag = await query('mamori_consumer_lag_records');
    expect(lag.length).toBeGreaterThan(0);
    const seen = await query('mamori_sensor_last_seen_timestamp_seconds{sensor_id="prom-sensor"}');
    expect(seen).toHaveLength(1);
  }, 120_000);
});
