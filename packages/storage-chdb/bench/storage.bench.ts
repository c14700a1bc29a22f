/**
 * chDB storage throughput and latency: `pnpm exec tsx packages/storage-chdb/bench/storage.bench.ts`
 * (from the repo root). Inserts BATCHES x 50k events and 20k detections into a temp directory,
 * then times the repository queries. Numbers go to docs/benchmarks.md, never into assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getDetection,
  insertDetections,
  insertEvents,
  listDetections,
  listEvents,
  migrate,
  toDetectionRow,
  toEventRow,
  type DetectionRow,
  type EventRow,
} from '@mamori/storage';
import { createChdbStorage } from '../src/index.ts';

const BATCH = 50_000;
const BATCHES = Number(process.env['BATCHES'] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'mamori-chdb-bench-'));
const storage = createChdbStorage({ path: dir, database: 'mamori' });
const base = Date.now() - 6 * 3600_000;

function events(batch: number): EventRow[] {
  return Array.from({ length: BATCH }, (_, j) => {
    const i = batch * BATCH + j;
    return toEventRow({
      eventId: `ev-${i}`,
      orgId: `org-${i % 4}`,
      sensorId: `sensor-${i % 8}`,
      sourceFormat: 'zeek-conn',
      eventClass: 'flow',
      time: base + i * 10,
      ingestTime: base + i * 10 + 3,
      srcIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      srcPort: 1024 + (i % 60000),
      dstIp: `192.0.2.${i % 200}`,
      dstPort: [22, 53, 80, 443][i % 4] ?? 443,
      protocol: 'tcp',
      bytesOut: i % 5000,
      bytesIn: (i * 7) % 90000,
      packetsOut: 4,
      packetsIn: 6,
      durationMs: i % 3000,
      connState: 'SF',
      communityId: `1:${i.toString(36)}`,
      rawTopic: 'mamori.raw.zeek',
      rawPartition: i % 6,
      rawOffset: i,
      attributes: { uid: `C${i}` },
    });
  });
}

function detections(n: number): DetectionRow[] {
  return Array.from({ length: n }, (_, i) =>
    toDetectionRow({
      detectionId: `det-${i}`,
      orgId: `org-${i % 4}`,
      ruleId: `rule-${i % 50}`,
      severity: (['info', 'low', 'medium', 'high', 'critical'] as const)[i % 5] ?? 'info',
      srcIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
      firstSeen: base + i * 1000,
      lastSeen: base + i * 1000 + 500,
      detectedAt: base + i * 1000 + 600,
      evidenceEventIds: [`ev-${i}`],
      version: 1,
    }),
  );
}

async function time<T>(label: string, runs: number, fn: () => Promise<T>): Promise<void> {
  await fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const p50 = samples[Math.floor(runs / 2)] ?? 0;
  const p95 = samples[Math.floor(runs * 0.95)] ?? 0;
  console.log(`${label.padEnd(48)} p50 ${p50.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms`);
}

try {
  await storage.connect();
  await migrate(storage);
  let totalMs = 0;
  for (let b = 0; b < BATCHES; b += 1) {
    const rows = events(b);
    const t = performance.now();
    await insertEvents(storage, rows, { deduplicationToken: `bench-${b}` });
    const ms = performance.now() - t;
    totalMs += ms;
    console.log(`insertEvents batch ${b}: ${BATCH} rows in ${ms.toFixed(0)} ms = ${Math.round((BATCH / ms) * 1000)} rows/s`);
  }
  console.log(`insertEvents total: ${BATCH * BATCHES} rows, ${Math.round(((BATCH * BATCHES) / totalMs) * 1000)} rows/s (incl. serialization)`);
  const d = detections(20_000);
  const t = performance.now();
  await insertDetections(storage, d);
  console.log(`insertDetections: 20000 rows in ${(performance.now() - t).toFixed(0)} ms`);

  await time('SELECT 1', 50, () => storage.query('SELECT 1'));
  await time('listDetections (no filter, 100)', 30, () => listDetections(storage));
  await time('listDetections (org, high+, since, 100)', 30, () =>
    listDetections(storage, { orgIds: ['org-1'], minSeverity: 'high', since: base + 3600_000 }),
  );
  await time('listDetections (ruleId, srcIp)', 30, () => listDetections(storage, { ruleId: 'rule-7', srcIp: '10.0.0.7' }));
  await time('getDetection (by id, org)', 30, () => getDetection(storage, 'det-12345', ['org-1']));
  await time('listEvents (org, 1-minute window, 100)', 30, () =>
    listEvents(storage, { orgIds: ['org-2'], since: base + 600_000, until: base + 660_000 }),
  );
  await time('listEvents (org, srcIp)', 30, () => listEvents(storage, { orgIds: ['org-1'], srcIp: '10.0.1.1' }));
  await time('count() events FINAL', 10, () => storage.query('SELECT count() FROM mamori.events FINAL'));
} finally {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}
