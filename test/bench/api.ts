/**
 * Analyst API benchmark at the issue's scale: 10M events and 100k detections in embedded chDB, the
 * query API served on a real port and loaded with autocannon (default detection list, a detection
 * detail, an entity page; 1 connection, then `connections` at once), plus the writer's insert path.
 * The list and the entity page run twice: as served (the detection row cache warm after the warm-up,
 *   as for a page analysts keep open; the entity cache holding the settled hours) and on a second API
 *   instance with both caches off (what a page costs when nothing of it is cached), so both are in
 *   every report. A live sensor inserts events through the writer's repository path during every run
 *   (liveIngest), so the entity page's live hours hold new rows as in a running deployment; the
 *   report adds the entity cache's hits and misses and a first view's CPU against a repeated one.
 *
 * - Bulk data is generated inside the engine (api-data.ts): 10M events in a few minutes instead of
 *   ten-plus through JSON. Inserting into the base tables fires the materialized views, so the roll-ups
 *   hold what real inserts would put there.
 * - The writer's path (rows built in JS, JSON through the storage repositories, 50,000-row batches) is
 *   measured on a separate sample: rows/s and process CPU-seconds per 50,000 rows (chDB runs in this
 *   process, so that is the engine's parse, sort, compression and view work too), on events of the
 *   last hours as a writer keeping up inserts them. The same sample goes into a database without
 *   migration 0011 and one without 0006 and later, so the cost of their views is measured in the
 *   same run.
 * - Scale: BENCH_API_EVENTS (default 10,000,000), BENCH_API_DETECTIONS (default 100,000),
 *   BENCH_API_WRITER_SAMPLE (default 200,000 events), BENCH_API_DURATION_S (default 10 s per run),
 *   BENCH_API_SETTLE_MAX_S (default 600: longest wait for the bulk's background merges to stop before the
 *   routes are measured; the report says whether they stopped and counts rows merged during each run).
 * - BENCH_API_DETECTION_BATCH_S (default 1): the live detector makes a detection a second and inserts
 *   them this often.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { MIGRATIONS, SEVERITIES, insertDetections, insertEvents, migrate, toDetectionRow, toEventRow, type DetectionRow, type EventRow, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import { metricValue } from '../harness/topics.ts';
import { ORGS, SOURCES, generateDetections, generateEvents, srcIp } from './api-data.ts';
import { fmtRate } from './measure.ts';

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number };
  non2xx: number;
  errors: number;
}
/** autocannon in a child process (load-generator.ts), so it does not share the API's event loop. */
export function autocannon(opts: { url: string; connections: number; duration: number; headers: Record<string, string> }): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./load-generator.ts', import.meta.url)), [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: AutocannonResult | undefined;
    child.once('message', (m) => (result = m as AutocannonResult));
    child.once('error', reject);
    child.once('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`load generator exited with ${code} before reporting`))));
  });
}

/** Rows merged by background merges so far in this process (`system.events`, cumulative). */
async function mergedRows(storage: StorageDriver): Promise<number> {
  const rows = await storage.query<{ n: string }>(`SELECT sum(value) AS n FROM system.events WHERE event = 'MergedRows'`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Waits until no background merge has run for `quietS` seconds (at most `maxS`). The bulk generation
 * leaves many fresh parts that the engine merges for minutes afterwards; measured during those merges,
 * the routes share the 2 cores with them, which is not the steady state of 10M stored events.
 */
export async function settleMerges(storage: StorageDriver, quietS: number, maxS: number): Promise<{ waitedS: number; settled: boolean }> {
  const t0 = performance.now();
  let quietSince = performance.now();
  for (;;) {
    const running = await storage.query<{ n: string }>(`SELECT count() AS n FROM system.merges`);
    const now = performance.now();
    if (Number(running[0]?.n ?? 0) > 0) quietSince = now;
    if (now - quietSince >= quietS * 1000) return { waitedS: (now - t0) / 1000, settled: true };
    if (now - t0 >= maxS * 1000) return { waitedS: (now - t0) / 1000, settled: false };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const HOUR = 3_600_000;
const BATCH = 50_000;
/** Events a second of the live sensor during the runs: four times the bulk's average rate (~17/s). */
const LIVE_PER_SECOND = 60;
/** Seconds between the live detector's inserts (BENCH_API_DETECTION_BATCH_S): the writer flushes every second by default. */
const DETECTION_BATCH_S = Math.max(1, Math.floor(Number(process.env['BENCH_API_DETECTION_BATCH_S'] ?? 1)));

/**
 * Writer-path sample: `count` events like the writer's (distinct ids from the generated ones). They
 * are the week's first `count` of `total` events, in time order as the bulk is (api-data.ts); with
 * `last`, the same rows over the same span ending at `now`, as a writer keeping up inserts them (the
 * view of migration 0011 keeps only the last two days' events, so its cost shows only on these).
 */
function sampleEvents(count: number, total: number, now: number, last = false): EventRow[][] {
  const span = (7 * 24 * HOUR * count) / total;
  const weekStart = last ? now - span : now - 7 * 24 * HOUR;
  const r = rng(7);
  const batches: EventRow[][] = [];
  for (let start = 0; start < count; start += BATCH) {
    const rows: EventRow[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const src = Math.floor(SOURCES * r() ** 2);
      rows.push(
        toEventRow({
          eventId: `w${i}`,
          orgId: ORGS[src % ORGS.length]!,
          sensorId: `sensor-${src % 8}`,
          sourceFormat: 'zeek-conn',
          eventClass: 'flow',
          time: weekStart + Math.floor((i / count) * span),
          srcIp: srcIp(src),
          srcPort: 1024 + Math.floor(r() * 60_000),
          dstIp: `198.51.100.${Math.floor(r() * 250) + 1}`,
          dstPort: [22, 53, 80, 443, 3389, 8080][Math.floor(r() * 6)]!,
          protocol: 'tcp',
          bytesOut: Math.floor(r() * 10_000),
          bytesIn: Math.floor(r() * 100_000),
          connState: 'SF',
          communityId: `1:${i.toString(36)}`,
        }),
      );
    }
    batches.push(rows);
  }
  return batches;
}

const PEER_PREFIXES = ['198.51.100.', '203.0.113.', '192.0.2.', '100.64.7.', '100.64.9.', '100.64.11.', '100.64.13.', '100.64.15.'];

/**
 * A live sensor while the routes are measured, as a running deployment has: each second one batch
 * of `perSecond` events through the writer's repository path (`insertEvents`, which fires the views),
 * a twentieth of them from the busiest source (ten times its rate in the bulk), the rest from skewed
 * sources; times lag the clock as a sensor's do (most by seconds to minutes, a tenth by up to 100
 * minutes, all within the entity cache's 2-hour settling).
 */
export function liveIngest(storage: StorageDriver, perSecond: number): { stop: () => Promise<{ events: number; detections: number; seconds: number }> } {
  const r = rng(23);
  let stopped = false;
  let events = 0;
  let detections = 0;
  const recent: DetectionRow[] = [];
  let detectionBatch: DetectionRow[] = [];
  const t0 = performance.now();
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const now = Date.now();
      const rows: EventRow[] = [];
      for (let k = 0; k < perSecond; k++) {
        const src = k % 20 === 0 ? 0 : Math.floor(SOURCES * r() ** 2);
        const lag = r() < 0.9 ? r() * 300_000 : r() * 6_000_000;
        rows.push(
          toEventRow({
            eventId: `live-${events + k}`,
            orgId: ORGS[src % ORGS.length]!,
            sensorId: `sensor-${src % 8}`,
            sourceFormat: 'zeek-conn',
            eventClass: 'flow',
            time: now - Math.floor(lag),
            srcIp: srcIp(src),
            srcPort: 1024 + Math.floor(r() * 60_000),
            dstIp: `${PEER_PREFIXES[Math.floor(r() * PEER_PREFIXES.length)]}${Math.floor(r() * 250) + 1}`,
            dstPort: [443, 443, 443, 80, 22, 3389, 8080, 445, 53][Math.floor(r() * 9)]!,
            protocol: 'tcp',
            bytesOut: Math.floor(r() * 10_000),
            bytesIn: Math.floor(r() * 100_000),
            connState: 'SF',
          }),
        );
      }
      await insertEvents(storage, rows);
      events += rows.length;
      // A detector's output: a detection a second from one of these events, every fifth second a
      // new version (later last_seen, higher count) of an earlier one instead.
      const second = detections;
      const earlier = second % 5 === 4 && recent.length > 0 ? recent[Math.floor(r() * recent.length)]! : undefined;
      const found = rows[Math.floor(r() * rows.length)]!;
      const row =
        earlier !== undefined
          ? { ...earlier, version: earlier.version + 1, lastSeen: Math.max(earlier.lastSeen, now), detectedAt: now, count: earlier.count + 1 }
          : toDetectionRow({
              detectionId: `live-det-${second}`,
              orgId: found.orgId,
              ruleId: `rule.${second % 40}`,
              title: `Live finding ${second % 40} from ${found.srcIp}`,
              severity: SEVERITIES[second % SEVERITIES.length]!,
              techniques: [`T10${40 + (second % 50)}`],
              entityType: 'ip',
              entityValue: found.srcIp,
              srcIp: found.srcIp,
              firstSeen: now - 60_000,
              lastSeen: now,
              detectedAt: now,
              count: 1,
              evidenceEventIds: [found.eventId],
              version: 1,
            });
      if (earlier !== undefined) recent[recent.indexOf(earlier)] = row;
      else recent.push(row);
      detectionBatch.push(row);
      detections++;
      // Inserted every DETECTION_BATCH_S seconds, as a writer flushing its detections that often would.
      if (detections % DETECTION_BATCH_S === 0) {
        await insertDetections(storage, detectionBatch);
        detectionBatch = [];
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (performance.now() - started))));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { events, detections, seconds: (performance.now() - t0) / 1000 };
    },
  };
}

/** Process CPU ms and wall ms per request of `urls`, fetched one after another. */
async function cpuPerRequest(urls: readonly string[], headers: Record<string, string>): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (const url of urls) {
    const res = await fetch(url, { headers });
    if (res.status !== 200) throw new Error(`bench api: ${url} answered ${res.status}`);
    await res.arrayBuffer();
  }
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / urls.length, wallMs: (performance.now() - t) / urls.length };
}

function sampleDetections(count: number, now: number): DetectionRow[] {
  const r = rng(11);
  const rows: DetectionRow[] = [];
  for (let i = 0; i < count; i++) {
    const src = Math.floor(SOURCES * r() ** 2);
    const last = now - Math.floor(r() * 7 * 24 * HOUR);
    rows.push(
      toDetectionRow({
        detectionId: `wdet-${i.toString(36)}`,
        orgId: ORGS[src % ORGS.length]!,
        ruleId: `rule.${i % 40}`,
        title: `Finding ${i % 40} from ${srcIp(src)}`,
        severity: SEVERITIES[Math.floor(r() * SEVERITIES.length)]!,
        techniques: [`T10${40 + (i % 50)}`],
        entityType: 'ip',
        entityValue: srcIp(src),
        srcIp: srcIp(src),
        firstSeen: last - Math.floor(r() * HOUR),
        lastSeen: last,
        detectedAt: last,
        count: 1 + Math.floor(r() * 50),
        evidenceEventIds: [`w${i}`],
        version: 1,
      }),
    );
  }
  return rows;
}

/** Inserts the batches through the repositories; wall seconds and process CPU-seconds of the insert calls only. */
async function timedInsert(storage: StorageDriver, batches: readonly EventRow[][]): Promise<{ wallS: number; cpuS: number; rows: number }> {
  let wallS = 0;
  let cpuS = 0;
  let rows = 0;
  for (const batch of batches) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await insertEvents(storage, batch);
    wallS += (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    cpuS += (used.user + used.system) / 1e6;
    rows += batch.length;
  }
  return { wallS, cpuS, rows };
}

export async function benchApi(options: { events?: number; detections?: number; durationS?: number; connections?: number } = {}): Promise<string> {
  const totalEvents = options.events ?? Number(process.env['BENCH_API_EVENTS'] ?? 10_000_000);
  const wantDetections = options.detections ?? Number(process.env['BENCH_API_DETECTIONS'] ?? 100_000);
  const writerSample = Math.min(totalEvents, Number(process.env['BENCH_API_WRITER_SAMPLE'] ?? 200_000));
  const durationS = options.durationS ?? Number(process.env['BENCH_API_DURATION_S'] ?? 10);
  const connections = options.connections ?? 10;
  const dir = mkdtempSync(join(tmpdir(), 'mamori-bench-api-'));
  const database = 'mamori_bench_api';
  const storage = createChdbStorage({ path: dir, database });
  // Same engine, databases without the newest views on events: the writer's cost before them
  // (migration 0011's entity_recent; and from 0006 on: peer and port roll-ups, ingest per sensor too).
  const withAll = createChdbStorage({ path: dir, database: 'mamori_bench_api_writer' });
  const without0011 = createChdbStorage({ path: dir, database: 'mamori_bench_api_0010' });
  const without0006 = createChdbStorage({ path: dir, database: 'mamori_bench_api_0005' });
  try {
    await storage.connect();
    await withAll.connect();
    await without0011.connect();
    await without0006.connect();
    await migrate(storage, { database });
    await migrate(withAll, { database: withAll.database });
    await migrate(without0011, { database: without0011.database, migrations: MIGRATIONS.filter((m) => m.id < 11) });
    await migrate(without0006, { database: without0006.database, migrations: MIGRATIONS.filter((m) => m.id < 6) });
    const now = Date.now();

    // 1. The writer's path on a sample of current events, into each schema (alternating batches share
    // the load); then the same rows as the week's first stretch into the benchmark's database.
    const batches = sampleEvents(writerSample, totalEvents, now, true);
    const writer = { wallS: 0, cpuS: 0, rows: 0 };
    const writerNo11 = { wallS: 0, cpuS: 0, rows: 0 };
    const writerOld = { wallS: 0, cpuS: 0, rows: 0 };
    for (const batch of batches) {
      for (const [target, acc] of [
        [withAll, writer],
        [without0011, writerNo11],
        [without0006, writerOld],
      ] as const) {
        const m = await timedInsert(target, [batch]);
        acc.wallS += m.wallS;
        acc.cpuS += m.cpuS;
        acc.rows += m.rows;
      }
    }
    for (const d of [withAll, without0011, without0006]) await d.exec(`DROP DATABASE IF EXISTS ${d.database}`);
    for (const batch of sampleEvents(writerSample, totalEvents, now)) await insertEvents(storage, batch);
    const detSample = sampleDetections(Math.min(10_000, wantDetections), now);
    let cpu = process.cpuUsage();
    let t = performance.now();
    await insertDetections(storage, detSample);
    const detWallS = (performance.now() - t) / 1000;
    const detCpu = process.cpuUsage(cpu);
    const detCpuS = (detCpu.user + detCpu.system) / 1e6;

    // 2. The bulk, generated in the engine.
    cpu = process.cpuUsage();
    t = performance.now();
    await generateEvents(storage, totalEvents - writerSample, now);
    const genEventsS = (performance.now() - t) / 1000;
    t = performance.now();
    const detections = await generateDetections(storage, wantDetections - detSample.length, totalEvents);
    const genDetectionsS = (performance.now() - t) / 1000;
    const gen = process.cpuUsage(cpu);
    const settle = await settleMerges(storage, 10, Number(process.env['BENCH_API_SETTLE_MAX_S'] ?? 600));
    const counts = await storage.query<{ events: string; detections: string; versions: string; parts: string }>(
      `SELECT (SELECT count() FROM ${database}.events) AS events, (SELECT uniqExact(detection_id) FROM ${database}.detections) AS detections,
         (SELECT count() FROM ${database}.detections) AS versions,
         (SELECT count() FROM system.parts WHERE database = {db:String} AND table = 'events' AND active) AS parts`,
      { db: database },
    );
    const c = counts[0]!;
    // The detail page's sample: a generated detection of org-a (evidence in the events table).
    const sample = await storage.query<{ id: string }>(
      `SELECT detection_id AS id FROM ${database}.detections WHERE org_id = 'org-a' AND startsWith(detection_id, 'det-') ORDER BY detection_id LIMIT 1 OFFSET 100`,
    );
    const sampleId = sample[0]?.id ?? 'missing';

    const secret = 'bench-secret-0123456789abcdef';
    const env = { MAMORI_API_KEYS: `bench:${hashSecret(secret)}:analyst:org-a`, API_RATE_LIMIT_PER_MINUTE: '0', API_PORT: '0' };
    const registry = createRegistry();
    const app = await buildQueryApi(loadQueryApiConfig(env), { storage, logger: silentLogger(), registry });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    // The same API with its caches off: the list and entity page as a first visit costs.
    const uncached = await buildQueryApi(loadQueryApiConfig({ ...env, API_DETECTION_CACHE_MB: '0', API_ENTITY_CACHE_MB: '0', API_LIST_HEADS_CACHE_MB: '0' }), {
      storage,
      logger: silentLogger(),
      registry: createRegistry(),
    });
    const uncachedBase = await uncached.listen({ host: '127.0.0.1', port: 0 });
    // Only the list heads cache off: the list's page picked in ClickHouse on every request.
    const headsOff = await buildQueryApi(loadQueryApiConfig({ ...env, API_LIST_HEADS_CACHE_MB: '0' }), { storage, logger: silentLogger(), registry: createRegistry() });
    const headsOffBase = await headsOff.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: `Bearer bench.${secret}` };
    const routes: [string, string, number][] = [
      ['default detection list (`GET /v1/detections`, 100 rows, org-a)', base + '/v1/detections', 100],
      ['default detection list, list heads cache off (`API_LIST_HEADS_CACHE_MB=0`)', headsOffBase + '/v1/detections', 100],
      ['default detection list, caches off (`API_DETECTION_CACHE_MB=0`, `API_LIST_HEADS_CACHE_MB=0`)', uncachedBase + '/v1/detections', 100],
      ['detection detail (`GET /v1/detections/:id`, evidence and ±15 min context)', base + `/v1/detections/${sampleId}`, 300],
      ['entity page (`GET /v1/entities/:ip`, 7 days, the busiest source)', base + `/v1/entities/${srcIp(0)}`, 300],
      ['entity page, caches off (`API_DETECTION_CACHE_MB=0`, `API_ENTITY_CACHE_MB=0`)', uncachedBase + `/v1/entities/${srcIp(0)}`, 300],
    ];
    const lines: string[] = [];
    const verdicts: string[] = [];
    const ingest = liveIngest(storage, LIVE_PER_SECOND);
    let ingested = { events: 0, detections: 0, seconds: 0 };
    let firstView = { cpuMs: 0, wallMs: 0 };
    let repeatView = { cpuMs: 0, wallMs: 0 };
    let uncachedView = { cpuMs: 0, wallMs: 0 };
    try {
      for (const [label, url, target] of routes) {
        // Warm-up: first queries compile and load marks; a route that fails is reported, not timed.
        let status = 0;
        for (let i = 0; i < 3; i++) status = (await fetch(url, { headers })).status;
        if (status !== 200) throw new Error(`bench api: ${url} answered ${status}`);
        for (const conns of [1, connections]) {
          const merged0 = await mergedRows(storage);
          const res = await autocannon({ url, connections: conns, duration: durationS, headers });
          const merged = (await mergedRows(storage)) - merged0;
          const meets = res.latency.p99 < target && res.non2xx + res.errors === 0;
          lines.push(`| ${label} | ${conns} | ${res.latency.p50} | ${res.latency.p99} | ${res.requests.average.toFixed(0)} | ${res.non2xx + res.errors} | ${merged.toLocaleString('en-US')} | < ${target} ms: ${meets ? 'meets' : '**misses**'} |`);
          if (!meets) verdicts.push(`${label.split(' (')[0]} at ${conns} connection${conns === 1 ? '' : 's'}`);
        }
      }
      // A first view of an entity page (the entity cache misses: settled hours read and kept) against
      // a repeated one, one request at a time: each `since` hour is a new cache key.
            const laterSince = (k: number) => new Date(Date.now() + 86_400_000 - 7 * 86_400_000 + k * HOUR).toISOString();
      const pages = Array.from({ length: 20 }, (_, k) => `/v1/entities/${srcIp(0)}?since=${encodeURIComponent(laterSince(k + 1))}`);
      firstView = await cpuPerRequest(pages.map((p) => base + p), headers);
      repeatView = await cpuPerRequest(pages.map((p) => base + p), headers);
      uncachedView = await cpuPerRequest(pages.map((p) => uncachedBase + p), headers);
    } finally {
      ingested = await ingest.stop();
      await app.close();
      await uncached.close();
      await headsOff.close();
    }
    const metrics = await registry.getMetricsAsJSON();
    const entityCache = {
      hits: metricValue(metrics, 'mamori_api_entity_cache_lookups_total', { result: 'hit' }),
      misses: metricValue(metrics, 'mamori_api_entity_cache_lookups_total', { result: 'miss' }),
      fallbacks: metricValue(metrics, 'mamori_api_entity_cache_fallbacks_total', {}),
      invalidations: metricValue(metrics, 'mamori_api_entity_cache_invalidations_total', {}),
    };
    const headsLookups = (name: string) =>
      Object.fromEntries(['hit', 'miss', 'refresh', 'fallback'].map((result) => [result, metricValue(metrics, `mamori_api_${name}_heads_cache_lookups_total`, { result })]));
    const headsCache = headsLookups('address');
    const listHeads = headsLookups('list');
    const per50k = (m: { cpuS: number; rows: number }) => ((m.cpuS / m.rows) * 50_000).toFixed(2);
    return [
      `Scale: ${Number(c.events).toLocaleString('en-US')} events (7 days arriving in time order, ${SOURCES.toLocaleString('en-US')} sources with skewed activity, ${ORGS.length} organizations, ${c.parts} active parts) and ${Number(c.detections).toLocaleString('en-US')} detections (${Number(c.versions).toLocaleString('en-US')} versions) in embedded chDB. Bulk rows generated inside the engine (${(totalEvents - writerSample).toLocaleString('en-US')} events in ${genEventsS.toFixed(0)} s, detections in ${genDetectionsS.toFixed(0)} s, ${((gen.user + gen.system) / 1e6).toFixed(0)} CPU-s; the materialized roll-ups fill as on real inserts). The API and chDB run in the benchmark's process, autocannon in a child process, all on the same ${cpus().length} cores (1 connection, then ${connections}, ${durationS} s each, rate limit off; chDB with ${storage.sessions} connections).`,
      '',
      `Writer path (rows built in JS, JSON through the storage repositories, ${BATCH.toLocaleString('en-US')}-row batches, ${writer.rows.toLocaleString('en-US')}-event sample): ${fmtRate(writer.rows / writer.wallS)} events/s, ${per50k(writer)} CPU-s per 50,000 rows, so 50k rows/s needs about ${per50k(writer)} cores. Same batches without migration 0011's view (\`entity_recent\`): ${fmtRate(writerNo11.rows / writerNo11.wallS)} events/s, ${per50k(writerNo11)} CPU-s per 50,000 rows; without the views of migrations 0006 on (also the peer and port roll-ups and ingest per sensor): ${fmtRate(writerOld.rows / writerOld.wallS)} events/s, ${per50k(writerOld)} CPU-s per 50,000 rows. Detections: ${fmtRate(detSample.length / detWallS)} rows/s, ${((detCpuS / detSample.length) * 50_000).toFixed(2)} CPU-s per 50,000 rows (one ${detSample.length.toLocaleString('en-US')}-row batch).`,
      '',
      `Measured once the bulk's background merges had ${settle.settled ? `stopped (no merge for 10 s; waited ${settle.waitedS.toFixed(0)} s after the generation)` : `not stopped after ${settle.waitedS.toFixed(0)} s (measured with merges running)`}; the merged-rows column counts rows that background merges wrote during each run.`,
      '',
      `Live ingest during every run, as in a running deployment: ${fmtRate(ingested.events / ingested.seconds)} events/s (${ingested.events.toLocaleString('en-US')} events in 1-second batches through the writer's repository path, a twentieth from the busiest source, times lagging the clock by up to 100 minutes; and ${ingested.detections.toLocaleString('en-US')} detections, one a second, every fifth a new version of an earlier one, inserted ${DETECTION_BATCH_S === 1 ? 'every second' : `every ${DETECTION_BATCH_S} seconds`}). Entity cache (settled hours, embedded chDB) over the whole section: ${entityCache.hits.toLocaleString('en-US')} hits, ${entityCache.misses.toLocaleString('en-US')} misses, ${entityCache.fallbacks} top lists read whole, ${entityCache.invalidations} entries dropped by late rows. Address heads cache (the entity page's detections): ${headsCache['hit']!.toLocaleString('en-US')} hits, ${headsCache['miss']!.toLocaleString('en-US')} misses, ${headsCache['refresh']!.toLocaleString('en-US')} refreshes (inserted detections read by id), ${headsCache['fallback']} fallbacks. List heads cache (the default list's page): ${listHeads['hit']!.toLocaleString('en-US')} hits, ${listHeads['miss']!.toLocaleString('en-US')} misses, ${listHeads['refresh']!.toLocaleString('en-US')} refreshes, ${listHeads['fallback']} fallbacks. One request at a time, same run: 20 entity pages of the busiest source (starting 1 to 20 hours after the default start, so each is a new cache key): first views (misses) ${firstView.cpuMs.toFixed(1)} ms of CPU and ${firstView.wallMs.toFixed(0)} ms a page, the same pages again (hits) ${repeatView.cpuMs.toFixed(1)} ms of CPU and ${repeatView.wallMs.toFixed(0)} ms, with both caches off ${uncachedView.cpuMs.toFixed(1)} ms of CPU and ${uncachedView.wallMs.toFixed(0)} ms.`,
      '',
      '| route | connections | p50 ms | p99 ms | req/s | non-2xx | merged rows | p99 target |',
      '|---|---|---|---|---|---|---|---|',
      ...lines,
      '',
      verdicts.length === 0 ? 'Every p99 target met in this run.' : `p99 target missed in this run: ${verdicts.join('; ')}.`,
    ].join('\n');
  } finally {
    await withAll.close();
    await without0011.close();
    await without0006.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
