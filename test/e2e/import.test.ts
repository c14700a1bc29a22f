import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, silentLogger, sleep } from '@mamori/core';
import type { MamoriEvent } from '@mamori/events';
import { FORMATS } from '@mamori/normalizer';
import { DEAD_LETTER_TOPIC, readDeadLetter } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import type { ConsumedMessage } from '@mamori/transport';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventId } from '../../services/normalizer/src/formats/event-id.ts';

/**
 * `mamori import` replays real sensor files through the real pipeline: the records go to the raw
 * topics of a real broker, the normalizer, detector and writer (in this process) turn them into
 * ClickHouse rows and detections, and the result must be exactly what `mamori normalize` prints for
 * the same files offline: the same events per format, the same dead letters, and the nmap scan of
 * the Stratosphere capture detected on its 2022 event time.
 */
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const SCAN_DIR = join(DATA, 'zeek/stratosphere/002-zeek-scenario-port-scanning');
const FILES = [
  join(SCAN_DIR, 'conn.log'), // Zeek JSON conn, one nmap scanner
  join(DATA, 'zeek/wrccdc-2018/zeek-default/ssh.log.gz'), // Zeek TSV, gzip
  join(DATA, 'suricata/slips-test6-malicious.eve.json'), // Suricata EVE
];
const present = FILES.every((f) => existsSync(f));
if (!present) console.warn(`import e2e skipped: the real sample set is absent (${DATA}); it lives beside the checkout as ../shared/data`);

const MAIN = fileURLToPath(new URL('../../services/cli/src/main.ts', import.meta.url));
const brokers = inject('kafkaBrokers');
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const SENSOR = `e2e-import-${RUN}`;
const SECRET = 'import-e2e-secret-0123456789';
const PORT_SCAN = 'mamori.network.port_scan';

interface Child {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mamori(args: string[], env: Record<string, string>): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** `  <format>: N file(s), R records[, E events, D dead-lettered]` lines of a summary. */
function perFormat(stderr: string): Map<string, { files: number; records: number; events?: number; dead?: number }> {
  const out = new Map<string, { files: number; records: number; events?: number; dead?: number }>();
  for (const m of stderr.matchAll(/^ {2}([a-z0-9_.-]+): (\d+) file\(s\), (\d+) records(?:, (\d+) events, (\d+) dead-lettered)?$/gm)) {
    out.set(m[1]!, { files: Number(m[2]), records: Number(m[3]), ...(m[4] === undefined ? {} : { events: Number(m[4]), dead: Number(m[5]) }) });
  }
  return out;
}

/** What identifies an event apart from its id, raw position and ingest time (which differ by path). */
function fingerprint(e: { source_format: string; time: number; src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: string; bytes_out: number; bytes_in: number; community_id: string | null }): string {
  const ip = (a: string) => (a === '' || a === '::' ? '' : a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'));
  return [e.source_format, e.time, ip(e.src_ip), e.src_port, ip(e.dst_ip), e.dst_port, e.protocol, e.bytes_out, e.bytes_in, e.community_id ?? ''].join('|');
}

function counts<T>(items: Iterable<T>, key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

describe.skipIf(!present)('mamori import replays real files through the real pipeline', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mamori-import-e2e-'));
  let running: RunningServices;
  let offline: Child;
  let imported: Child;
  let expected: MamoriEvent[];

  beforeAll(async () => {
    // Offline first: the reference the pipeline must reproduce (same sensor, default org, no inventory).
    offline = await mamori(['normalize', ...FILES, '--sensor', SENSOR], {});
    expect(offline.code, offline.stderr.slice(-2000)).toBe(0);
    expected = offline.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as MamoriEvent);

    const env = {
      KAFKA_BROKERS: brokers,
      MAMORI_DATA_DIR: dataDir,
      METRICS_PORT: '0',
      API_PORT: '0',
      MAMORI_API_KEYS: `e2e:${hashSecret(SECRET)}:viewer:*`,
      MAMORI_TOPIC_PARTITIONS: '3',
      MAMORI_TOPIC_EVENTS: `e2e.import.${RUN}.events`,
      MAMORI_TOPIC_DETECTIONS: `e2e.import.${RUN}.detections`,
      MAMORI_TOPIC_CORRELATION_REPARTITION: `e2e.import.${RUN}.repartition`,
      MAMORI_TOPIC_CORRELATION_STATE: `e2e.import.${RUN}.state`,
      DETECTOR_IDLE_CLOSE_MS: '1500',
      // The capture is from 2022 (the TSV from 2018) and the default 90-day retention applies: it
      // counts from ingestion, so the replayed rows are kept (regression: imported-old-events-expired-at-insert).
    };
    running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: process.env['E2E_DEBUG'] ? createLogger({ name: 'import-e2e', level: 'warn' }) : silentLogger() });
    imported = await mamori(['import', ...FILES, '--sensor', SENSOR], { KAFKA_BROKERS: brokers, MAMORI_TOPIC_PARTITIONS: '3' });
    expect(imported.code, imported.stderr.slice(-2000)).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await running?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('produces every record of every file to its format raw topic, as normalize counts them', () => {
    const off = perFormat(offline.stderr);
    const imp = perFormat(imported.stderr);
    expect([...imp.keys()].sort()).toEqual(['suricata.eve', 'zeek.conn', 'zeek.ssh']);
    expect([...imp.keys()].sort()).toEqual([...off.keys()].sort());
    for (const [id, f] of imp) {
      expect(f.files, id).toBe(1);
      expect(f.records, id).toBe(off.get(id)!.records);
      expect(f.records, id).toBeGreaterThan(0);
    }
    const total = [...imp.values()].reduce((s, f) => s + f.records, 0);
    const summary = /^mamori import: (\d+) file\(s\), produced (\d+) records \((.*)\) as sensor (\S+)$/m.exec(imported.stderr);
    expect(summary, imported.stderr.slice(-1000)).not.toBeNull();
    expect(Number(summary![1])).toBe(3);
    expect(Number(summary![2])).toBe(total);
    expect(summary![4]).toBe(SENSOR);
    for (const [id, f] of imp) expect(summary![3]).toContain(`${f.records} to ${FORMATS.find((x) => x.id === id)!.topics[0]}`);
    // The offline totals line agrees with its per-format lines.
    const o = /^mamori normalize: 3 file\(s\), (\d+) records, (\d+) events, (\d+) dead-lettered/m.exec(offline.stderr);
    expect(o).not.toBeNull();
    expect(Number(o![1])).toBe(total);
    expect(Number(o![2])).toBe(expected.length);
  });

  it('stores exactly the events normalize prints: per format, and field by field', async () => {
    const storage = running.storage!;
    const db = storage.database;
    let stored = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const rows = await storage.query<{ n: string }>(`SELECT count() AS n FROM ${db}.events FINAL WHERE sensor_id = {s:String}`, { s: SENSOR });
      stored = Number(rows[0]!.n);
      if (stored >= expected.length) break;
      await sleep(1000);
    }
    await sleep(2000); // anything beyond the expected count would show up now
    const byFormat = await storage.query<{ f: string; n: string }>(`SELECT source_format AS f, count() AS n FROM ${db}.events FINAL WHERE sensor_id = {s:String} GROUP BY f ORDER BY f`, { s: SENSOR });
    const want = counts(expected, (e) => e.source_format);
    expect(new Map(byFormat.map((r) => [r.f, Number(r.n)]))).toEqual(want);
    expect(want.get('zeek.conn')).toBeGreaterThan(4000);

    const rows = await storage.query<{
      event_id: string; source_format: string; time: string; src_ip: string; src_port: number; dst_ip: string; dst_port: number; protocol: string;
      bytes_out: string; bytes_in: string; community_id: string; raw_topic: string; raw_partition: number; raw_offset: string; org_id: string;
    }>(
      `SELECT event_id, source_format, toUnixTimestamp64Milli(time) AS time, IPv6NumToString(src_ip) AS src_ip, src_port, IPv6NumToString(dst_ip) AS dst_ip, dst_port,
              protocol, bytes_out, bytes_in, community_id, raw_topic, raw_partition, raw_offset, org_id
         FROM ${db}.events FINAL WHERE sensor_id = {s:String}`,
      { s: SENSOR },
    );
    const got = counts(rows, (r) =>
      fingerprint({ ...r, time: Number(r.time), src_port: Number(r.src_port), dst_port: Number(r.dst_port), bytes_out: Number(r.bytes_out), bytes_in: Number(r.bytes_in), community_id: r.community_id === '' ? null : r.community_id }),
    );
    const wantPrints = counts(expected, fingerprint);
    const missing = [...wantPrints].filter(([k, n]) => got.get(k) !== n).slice(0, 5);
    expect(missing, 'events normalize printed that ClickHouse does not hold the same number of times').toEqual([]);
    expect(got.size).toBe(wantPrints.size);

    // Ids come from the raw record's position, so replays collapse: a sample recomputed from its row.
    for (const r of rows.filter((_, i) => i % 97 === 0)) {
      expect(r.event_id).toBe(eventId(r.raw_topic, Number(r.raw_partition), Number(r.raw_offset), 0));
      expect(r.raw_topic).toBe(FORMATS.find((f) => f.id === r.source_format)!.topics[0]);
      expect(r.org_id).toBe('default');
    }
  }, 180_000);

  it('dead-letters the same records normalize rejects, with their original bytes', async () => {
    const off = perFormat(offline.stderr);
    const wantByTopic = new Map<string, number>();
    for (const [id, f] of off) if (f.dead) wantByTopic.set(FORMATS.find((x) => x.id === id)!.topics[0]!, f.dead);
    const want = [...wantByTopic.values()].reduce((a, b) => a + b, 0);

    const letters: ConsumedMessage[] = [];
    const consumer = running.transport.consumer({ groupId: `e2e-import-dlq-${RUN}`, topics: [DEAD_LETTER_TOPIC], fromBeginning: true, maxWaitMs: 100 });
    await consumer.connect();
    await consumer.run(async (batch) => {
      letters.push(...batch.messages.filter((m) => m.key?.toString() === SENSOR));
    });
    const until = Date.now() + 60_000;
    while (letters.length < want && Date.now() < until) await sleep(250);
    await sleep(2000);
    await consumer.close();
    const infos = letters.map(readDeadLetter);
    expect(infos.every((l) => l.stage === 'normalizer')).toBe(true);
    expect(counts(infos, (l) => l.sourceTopic)).toEqual(wantByTopic);
    // The reasons are the ones normalize gave (`file:line: CODE message` on its stderr).
    const offCodes = counts([...offline.stderr.matchAll(/^\/\S+:\d+: ([A-Z_]+) /gm)], (m) => m[1]!);
    expect(counts(infos, (l) => l.code)).toEqual(offCodes);
  }, 120_000);

  it('detects the nmap scan of the old capture on its event time', async () => {
    const conn = expected.filter((e) => e.source_format === 'zeek.conn');
    // The scanner is whoever probed the most distinct destination ports.
    const ports = new Map<string, Set<number>>();
    for (const e of conn) (ports.get(e.src_ip) ?? ports.set(e.src_ip, new Set()).get(e.src_ip)!).add(e.dst_port);
    const [scanner, scanned] = [...ports].sort((a, b) => b[1].size - a[1].size)[0]!;
    expect(scanned.size).toBeGreaterThan(100);
    expect(readFileSync(join(SCAN_DIR, 'README.md'), 'utf8')).toContain(scanner);
    const times = conn.map((e) => e.time);
    const [first, last] = [Math.min(...times), Math.max(...times)];
    const day = 86_400_000;
    const url = `${running.apiUrl}/v1/detections?limit=100&since=${new Date(first - day).toISOString()}&until=${new Date(last + day).toISOString()}`;

    type ApiDetection = { rule_id: string; src_ip: string; first_seen: string; last_seen: string; count: number; sensor_id?: string };
    let detections: ApiDetection[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await fetch(url, { headers: { authorization: `Bearer e2e.${SECRET}` } });
      expect(res.status).toBe(200);
      detections = ((await res.json()) as { detections: ApiDetection[] }).detections;
      if (detections.some((d) => d.rule_id === PORT_SCAN && d.src_ip === scanner) || Date.now() > deadline) break;
      await sleep(1000);
    }
    const scans = detections.filter((d) => d.rule_id === PORT_SCAN);
    const stored = await running.storage!.query<{ rule_id: string; n: string; first: string }>(
      `SELECT rule_id, count() AS n, min(first_seen) AS first FROM ${running.storage!.database}.detections FINAL GROUP BY rule_id`,
    );
    expect(scans.map((d) => d.src_ip), `API: ${JSON.stringify(detections.map((d) => [d.rule_id, d.src_ip]))}; table: ${JSON.stringify(stored)}`).toContain(scanner);
    for (const d of scans.filter((x) => x.src_ip === scanner)) {
      // Event time of the capture, not the time of the import.
      expect(Date.parse(d.first_seen)).toBeGreaterThanOrEqual(first);
      expect(Date.parse(d.last_seen)).toBeLessThanOrEqual(last);
      expect(d.count).toBeGreaterThan(0);
    }
    expect(last).toBeLessThan(Date.now() - 365 * day);
  }, 120_000);
});
