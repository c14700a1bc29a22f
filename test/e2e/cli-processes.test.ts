import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '@mamori/core';
import { createSimulator, produceSimulation } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { hashSecret } from '@mamori/query-api';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLocalCluster, type LocalCluster } from '../harness/index.ts';

/**
 * The services as separate `mamori run` processes, the way they are deployed: normalizer+detector in
 * one, writer+query-api in another. A scan flows through; SIGTERM drains, commits and exits 0.
 */
const MAIN = fileURLToPath(new URL('../../services/cli/src/main.ts', import.meta.url));
const SECRET = 'cli-test-secret-0123456789';

interface Proc {
  child: ChildProcess;
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function mamori(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  child.stdout!.on('data', () => undefined);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr, exit };
}

async function waitHttp(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return res;
      last = new Error(`${res.status}`);
    } catch (error) {
      last = error;
    }
    await sleep(300);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${String(last)}`);
}

describe('mamori run, as separate processes', () => {
  let cluster: LocalCluster;
  const dataDir = mkdtempSync(join(tmpdir(), 'mamori-cli-'));
  const procs: Proc[] = [];

  beforeAll(async () => {
    cluster = await startLocalCluster({ brokers: 1 });
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('processes a scan across processes, serves ops endpoints, and drains on SIGTERM', async () => {
    const [pipelineMetrics, storeMetrics, apiPort] = [await freePort(), await freePort(), await freePort()];
    const common = { KAFKA_BROKERS: cluster.brokers, MAMORI_TOPIC_PARTITIONS: '2', DETECTOR_IDLE_CLOSE_MS: '1000', SHUTDOWN_TIMEOUT_MS: '20000' };
    const pipeline = mamori(['run', 'normalizer', 'detector'], { ...common, METRICS_PORT: String(pipelineMetrics) });
    const store = mamori(['run', 'writer', 'query-api'], {
      ...common,
      METRICS_PORT: String(storeMetrics),
      API_PORT: String(apiPort),
      MAMORI_DATA_DIR: dataDir,
      MAMORI_API_KEYS: `t:${hashSecret(SECRET)}:viewer:*`,
    });
    procs.push(pipeline, store);

    await waitHttp(`http://127.0.0.1:${pipelineMetrics}/readyz`, 90_000);
    await waitHttp(`http://127.0.0.1:${storeMetrics}/readyz`, 90_000);
    expect((await fetch(`http://127.0.0.1:${pipelineMetrics}/healthz`)).status).toBe(200);

    const transport = createKafkajsTransport({ brokers: [cluster.brokers] });
    const producer = transport.producer();
    await producer.connect();
    const simulator = createSimulator({
      seed: 5,
      startTime: Date.now() - 10 * 60_000,
      ratePerSecond: 20,
      durationMs: 3 * 60_000,
      attacks: [{ kind: 'horizontal_scan', at: 30_000, targets: 40, ports: [22], durationMs: 10_000 }],
    });
    const stats = await produceSimulation(producer, simulator, { topic: TOPICS.rawZeekConn, sensorId: 'cli-sensor', ratePerSecond: 0, batchSize: 500 });
    await producer.close();

    // The detection reaches the API served by the other process.
    const deadline = Date.now() + 90_000;
    let found: { src_ip: string; count: number }[] = [];
    while (Date.now() < deadline) {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/detections`, { headers: { authorization: `Bearer t.${SECRET}` } });
      found = ((await res.json()) as { detections: { src_ip: string; count: number }[] }).detections;
      if (found.some((d) => d.src_ip === simulator.attackSources[0] && d.count >= 40)) break;
      await sleep(500);
    }
    expect(found.map((d) => d.src_ip)).toEqual([simulator.attackSources[0]]);

    // Each process exposes its stage metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${pipelineMetrics}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`mamori_records_received_total\\{stage="normalizer",topic="${TOPICS.rawZeekConn}"\\} ${stats.produced}\\b`));
    expect(metrics).toContain('mamori_process_resident_memory_bytes');
    const storeText = await (await fetch(`http://127.0.0.1:${storeMetrics}/metrics`)).text();
    expect(storeText).toContain('mamori_records_emitted_total{stage="writer",topic="clickhouse.events"}');

    const admin = transport.admin();
    await admin.connect();
    /** Partitions whose committed offset for the group is behind the end of the topic. */
    const behind = async (group: string, topic: string) => {
      const end = await admin.endOffsets(topic);
      const committed = await admin.committedOffsets(group, topic);
      return end.filter((e) => e.offset !== '0' && committed.find((c) => c.partition === e.partition)?.offset !== e.offset).map((e) => ({ group, topic, partition: e.partition }));
    };
    try {
      // SIGTERM upstream first: the pipeline process drains, reports the episodes it still holds open,
      // commits and exits 0 within the bound.
      const started = Date.now();
      pipeline.child.kill('SIGTERM');
      const a = await pipeline.exit;
      expect({ code: a.code, stderr: pipeline.stderr.join('') }).toMatchObject({ code: 0 });
      expect(Date.now() - started).toBeLessThan(45_000);
      expect(pipeline.stderr.join('')).toContain('SIGTERM: draining');
      expect([...(await behind('mamori-normalizer', TOPICS.rawZeekConn)), ...(await behind('mamori-detector', TOPICS.events))]).toEqual([]);

      // The writer takes what the pipeline wrote on its way out, then drains on SIGTERM too.
      const caughtUp = Date.now() + 60_000;
      let lagging: unknown[] = ['?'];
      while (Date.now() < caughtUp) {
        lagging = [...(await behind('mamori-writer', TOPICS.events)), ...(await behind('mamori-writer', TOPICS.detections))];
        if (lagging.length === 0) break;
        await sleep(500);
      }
      expect(lagging).toEqual([]);
      store.child.kill('SIGTERM');
      const b = await store.exit;
      expect({ code: b.code, stderr: store.stderr.join('') }).toMatchObject({ code: 0 });
    } finally {
      await admin.close();
    }
  }, 300_000);
});

describe('mamori on a wrong set-up: one clear message, non-zero exit', () => {
  const run = async (args: string[], env: Record<string, string>) => {
    const p = mamori(args, env);
    const { code } = await p.exit;
    return { code, stderr: p.stderr.join('') };
  };

  it('names the unreachable broker', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await run(['run', 'normalizer'], { KAFKA_BROKERS: `127.0.0.1:${port}`, METRICS_PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).toContain('KAFKA_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(45_000);
  }, 60_000);

  it('rejects a bad CLICKHOUSE_URL and bad numbers at boot, all at once', async () => {
    const r = await run(['run', 'writer', 'query-api'], { CLICKHOUSE_URL: 'not a url', METRICS_PORT: 'abc', MAMORI_TRANSPORT: 'zmq' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CLICKHOUSE_URL');
    expect(r.stderr).toContain('METRICS_PORT');
    expect(r.stderr).toContain('MAMORI_TRANSPORT');
  }, 30_000);

  it('says which port is in use', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    try {
      const r = await run(['run', 'normalizer'], { KAFKA_BROKERS: '127.0.0.1:1', METRICS_PORT: String(port) });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('METRICS_PORT');
    } finally {
      server.close();
    }
  }, 30_000);

  it('refuses an unknown service and embedded chDB split across processes', async () => {
    expect((await run(['run', 'scanner'], {})).code).toBe(2);
    const split = await run(['run', 'query-api'], { METRICS_PORT: '0' });
    expect(split.code).toBe(2);
    expect(split.stderr).toContain('writer and query-api must run in the same process');
  }, 30_000);
});
