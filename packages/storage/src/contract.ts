import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from './errors.ts';
import { toDateTime64 } from './sql.ts';
import { migrate, migrationChecksum, migrationStatus } from './migrate.ts';
import { MIGRATIONS } from './migrations/index.ts';
import {
  RANGE_WHOLE_MAX,
  detectionCountsHourly,
  entityHourly,
  entityPeerTotals,
  entityPeersSplit,
  entityPortTotals,
  entityPortsSplit,
  entityRange,
  entityTop,
  topEntities,
} from './repositories/aggregates.ts';
import { appendAudit, listAudit } from './repositories/audit.ts';
import { DetectionRowCache } from './repositories/detection-cache.ts';
import { changeDecision, createDecision, decisionHistory, getDecision, listDecisions, type NewDecision } from './repositories/decisions.ts';
import { appendDetectionState, getDetectionState, listDetectionStates } from './repositories/detection-state.ts';
import { getDetection, insertDetections, listDetections, listDetectionsFromDetections } from './repositories/detections.ts';
import { insertEvents, listEvents, searchEvents } from './repositories/events.ts';
import { insertIndicator, listIndicators } from './repositories/indicators.ts';
import { applyEventRetention } from './retention.ts';
import { toDetectionRow, type DetectionRow } from './rows/detection-row.ts';
import { toEventRow, type EventRow } from './rows/event-row.ts';
import type { QueryOptions, QueryParams, StorageDriver } from './types.ts';

/**
 * The driver, except that inserts into `table` wait until `parties` of them have arrived, then all
 * proceed at once: racing writers are made to race for real, whatever the scheduling.
 */
function gateInserts(inner: StorageDriver, table: string, parties: number): StorageDriver {
  let waiting: (() => void)[] = [];
  return {
    name: inner.name,
    database: inner.database,
    connect: () => inner.connect(),
    exec: (sql, params, options) => inner.exec(sql, params, options),
    query: <T,>(sql: string, params?: QueryParams, options?: QueryOptions) => inner.query<T>(sql, params, options),
    ping: () => inner.ping(),
    close: async () => undefined,
    insert: async (name, rows, options) => {
      if (name === table) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length >= parties) {
            for (const release of waiting) release();
            waiting = [];
          }
        });
      }
      return inner.insert(name, rows, options);
    },
  };
}

const DAY = 86_400_000;
const INJECTIONS = ["' OR 1=1 --", '`; DROP TABLE events; --', "x'); DROP DATABASE system; --", '\\\'\n\t{x:String}'];

/**
 * The behaviour every StorageDriver adapter must show, as vitest tests, on a real engine. Each run
 * works in its own database (random suffix) and drops it at the end, so runs can share a server.
 * `makeDriver(database)` returns an unconnected driver for that database.
 */
export function runStorageContract(name: string, makeDriver: (database: string) => StorageDriver | Promise<StorageDriver>): void {
  describe(`storage contract: ${name}`, () => {
    const database = `mamori_contract_${randomBytes(4).toString('hex')}`;
    let driver: StorageDriver;
    const base = Date.now() - 60 * 60_000;

    beforeAll(async () => {
      driver = await makeDriver(database);
      await driver.connect();
    });

    afterAll(async () => {
      if (driver === undefined) return;
      await driver.exec(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
      await driver.close();
    });

    /**
     * `body` with a driver on a database of its own migrated up to (not including) migration `id`,
     * dropped afterwards: for tests of what a migration does to data stored before it.
     */
    const beforeMigration = async (id: number, body: (read: StorageDriver, earlier: string) => Promise<void>): Promise<void> => {
      const earlier = `${database}_pre${String(id).padStart(4, '0')}`;
      let read: StorageDriver | undefined;
      try {
        await migrate(driver, { database: earlier, migrations: MIGRATIONS.filter((m) => m.id < id) });
        read = await makeDriver(earlier);
        await read.connect();
        await body(read, earlier);
      } finally {
        await read?.close();
        await driver.exec(`DROP DATABASE IF EXISTS ${earlier}`);
      }
    };

    const event = (i: number, overrides: Partial<EventRow> = {}): EventRow =>
      toEventRow({
        eventId: `ev-${i}`,
        orgId: i % 2 === 0 ? 'org-a' : 'org-b',
        sensorId: 'sensor-1',
        sourceFormat: 'zeek-conn',
        eventClass: 'flow',
        time: base + i * 1000,
        ingestTime: base + i * 1000 + 5,
        srcIp: i % 3 === 0 ? '2001:db8::7' : `10.0.0.${i % 250}`,
        srcPort: 40000 + i,
        dstIp: '192.0.2.1',
        dstPort: 443,
        protocol: 'tcp',
        bytesOut: 1000 + i,
        bytesIn: 2 ** 40 + i,
        packetsOut: 3,
        packetsIn: 4,
        durationMs: 120,
        connState: 'SF',
        communityId: `1:c${i}`,
        rawTopic: 'mamori.raw.zeek',
        rawPartition: 2,
        rawOffset: 10_000 + i,
        attributes: { 'zeek.uid': `C${i}`, service: 'ssl' },
        ...overrides,
      });

    const detection = (i: number, overrides: Partial<DetectionRow> = {}): DetectionRow =>
      toDetectionRow({
        detectionId: `det-${String(i).padStart(3, '0')}`,
        orgId: i % 2 === 0 ? 'org-a' : 'org-b',
        ruleId: i % 3 === 0 ? 'port-scan' : 'beaconing',
        ruleVersion: 2,
        title: `detection ${i}`,
        severity: (['info', 'low', 'medium', 'high', 'critical'] as const)[i % 5] ?? 'info',
        confidence: 0.9,
        tactics: ['discovery'],
        techniques: ['T1046'],
        entityType: 'ip',
        entityValue: `10.0.0.${i}`,
        srcIp: i === 7 ? '2001:db8::7' : `10.0.0.${i}`,
        firstSeen: base + i * 1000,
        lastSeen: base + i * 1000 + 500,
        detectedAt: base + i * 1000 + 600,
        count: i + 1,
        summary: `summary ${i}`,
        evidenceEventIds: [`ev-${i}`],
        evidenceJson: JSON.stringify({ ports: [22, 80] }),
        attributes: { k: 'v' },
        rulesetChecksum: 'abc123',
        version: 1,
        ...overrides,
      });

    it('migrates, and a second run applies nothing', async () => {
      const first = await migrate(driver);
      expect(first.applied.map((m) => m.id)).toEqual(MIGRATIONS.map((m) => m.id));
      const second = await migrate(driver);
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toBe(MIGRATIONS.length);
      const status = await migrationStatus(driver);
      expect(status.map((s) => s.state)).toEqual(MIGRATIONS.map(() => 'applied'));
      const tables = await driver.query<{ name: string }>(
        'SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name',
        { db: database },
      );
      expect(tables.map((t) => t.name)).toEqual([
        'audit_log',
        'decision_versions',
        'decisions',
        'detection_counts_hourly',
        'detection_counts_hourly_mv',
        'detection_heads',
        'detection_heads_mv',
        'detection_heads_recent',
        'detection_heads_recent_mv',
        'detection_state',
        'detection_state_current',
        'detection_state_current_mv',
        'detections',
        'detections_by_ip',
        'detections_by_ip_mv',
        'detections_by_time',
        'detections_by_time_mv',
        'entity_hourly',
        'entity_hourly_dst_mv',
        'entity_hourly_src_mv',
        'entity_peer_hourly',
        'entity_peer_hourly_mv',
        'entity_port_hourly',
        'entity_port_hourly_mv',
        'entity_recent',
        'entity_recent_mv',
        'events',
        'indicators',
        'schema_migrations',
        'sensor_ingest_hourly',
        'sensor_ingest_hourly_mv',
      ]);
    });

    it('refuses an applied migration whose statements changed', async () => {
      const edited = MIGRATIONS.map((m) => (m.id === 1 ? { ...m, statements: [...m.statements, 'SELECT 1'] } : m));
      expect(migrationChecksum(edited[0]!)).not.toBe(migrationChecksum(MIGRATIONS[0]!));
      await expect(migrate(driver, { migrations: edited })).rejects.toMatchObject({ code: 'STORAGE_MIGRATION_CHECKSUM_MISMATCH' });
      const status = await migrationStatus(driver, { migrations: edited });
      expect(status[0]?.state).toBe('checksum_mismatch');
    });

    it('migration 0008 back-fills detections_by_ip from the detections stored before it, and a re-run duplicates nothing', async () => {
      await beforeMigration(8, async (read, earlier) => {
        await insertDetections(read, [detection(50, { orgId: 'org-w', srcIp: '192.0.2.50', entityValue: '10.8.0.50' }), detection(51, { orgId: 'org-w' })]);
        await insertDetections(read, [detection(50, { orgId: 'org-w', srcIp: '192.0.2.50', entityValue: '10.8.0.50', version: 2, lastSeen: base + 99_000 })]);
        expect((await migrate(driver, { database: earlier, migrations: MIGRATIONS.filter((m) => m.id <= 8) })).applied.map((m) => m.id)).toEqual([8]);
        const m8 = MIGRATIONS.find((m) => m.id === 8)!;
        for (const statement of m8.statements) await driver.exec(statement.replaceAll('{db}', earlier));
        for (const entityIp of ['10.8.0.50', '192.0.2.50', '0.0.0.0/0', '10.0.0.51']) {
          const q = { orgIds: ['org-w'], entityIp, limit: 10 };
          const listed = await listDetections(read, q);
          expect(listed, entityIp).toEqual(await listDetectionsFromDetections(read, q));
          expect(listed.detections.length, entityIp).toBeGreaterThan(0);
        }
        expect((await listDetections(read, { orgIds: ['org-w'], entityIp: '10.8.0.50' })).detections.map((d) => [d.detectionId, d.version])).toEqual([['det-050', 2]]);
      });
    });

    it('migration 0011 back-fills entity_recent from the last two days of events stored before it, once', async () => {
      await beforeMigration(11, async (read, earlier) => {
        const hour = Math.floor(base / 3_600_000) * 3_600_000 - 2 * 3_600_000;
        const old = hour - 3 * 86_400_000;
        // ingest_time as the writer sets it (the broker's timestamp): before the migration runs.
        const at = { ingestTime: Date.now() - 60_000 };
        await insertEvents(read, [
          event(700, { ...at, orgId: 'org-b11', time: hour + 10, srcIp: '10.71.0.1', dstIp: '10.81.0.1', dstPort: 22, bytesOut: 100, bytesIn: 10 }),
          event(701, { ...at, orgId: 'org-b11', time: hour + 3_600_000, srcIp: '10.81.0.2', dstIp: '10.71.0.1', dstPort: 443, bytesOut: 5, bytesIn: 1 }),
          event(702, { ...at, orgId: 'org-b11', time: old, srcIp: '10.71.0.1', dstIp: '10.81.0.3', dstPort: 25, bytesOut: 1, bytesIn: 1 }),
        ]);
        expect((await migrate(driver, { database: earlier })).applied.map((m) => m.id)).toEqual([11]);
        // After the migration the view adds what arrives; ingest_time now.
        await insertEvents(read, [event(703, { orgId: 'org-b11', time: hour + 20, srcIp: '10.71.0.1', dstIp: '10.81.0.1', dstPort: 22, bytesOut: 1, bytesIn: 1 })]);
        const none = { keys: [], connections: [] };
        const args = [read, ['org-b11'], '10.71.0.1', hour, hour + 2 * 3_600_000, 10, none, none, {}, RANGE_WHOLE_MAX] as const;
        const recent = await entityRange(...args, 'recent');
        expect(recent).toEqual(await entityRange(...args, 'hourly'));
        expect(recent.timeline.map((h) => [h.hour, h.connsAsSrc, h.connsAsDst, h.bytesSent, h.bytesReceived, h.peers, h.ports])).toEqual([
          [hour, 2, 0, 101, 11, 1, 1],
          [hour + 3_600_000, 0, 1, 1, 5, 1, 1],
        ]);
        // The event older than two days is not copied.
        const rows = await read.query<{ n: unknown }>(`SELECT count() AS n FROM ${earlier}.entity_recent WHERE hour < toDateTime({h:UInt32}, 'UTC')`, { h: hour / 1000 });
        expect(Number(rows[0]?.n)).toBe(0);
      });
    });

    it('migration 0005 moves decisions of the api_decisions table (earlier query-api releases) into decision_versions, once', async () => {
      const legacy = `${database}_legacy`;
      let read: StorageDriver | undefined;
      try {
        const before = MIGRATIONS.filter((m) => m.id < 5);
        await migrate(driver, { database: legacy, migrations: before });
        const m5 = MIGRATIONS.find((m) => m.id === 5)!;
        // The table exactly as query-api created it on first use (the migration's own copy of that DDL).
        await driver.exec(m5.statements[1]!.replaceAll('{db}', legacy));
        const t = Date.UTC(2026, 0, 1);
        const row = (version: number, status: string, updated: number, extra: Record<string, unknown> = {}) => ({
          decision_id: 'd-1', org_id: 'org-a', action: 'block', status, target_kind: 'indicator', detection_id: '', indicator_type: 'ipv4',
          indicator_value: '198.51.100.7', justification: 'C2', tlp: 'green', share_with: [], requested_by: 'key:alice',
          decided_by: status === 'proposed' ? '' : 'key:bob', decision_reason: '', created_at: toDateTime64(t), updated_at: toDateTime64(updated),
          activated_at: toDateTime64(status === 'active' ? updated : 0), expires_at: toDateTime64(t + 86_400_000), version, ...extra,
        });
        // One insert per version, as query-api wrote them (rows of one insert collapse on insert in a ReplacingMergeTree).
        for (const r of [row(1_767_225_600_000_000, 'proposed', t), row(1_767_225_600_500_000, 'active', t + 500), row(1_767_225_600_000_001, 'active', t, { decision_id: 'd-2', indicator_value: '198.51.100.8' })]) {
          await driver.exec(`INSERT INTO ${legacy}.api_decisions SELECT * FROM format(JSONEachRow, {rows:String})`, { rows: JSON.stringify(r) });
        }
        expect((await migrate(driver, { database: legacy })).applied.map((m) => m.id)).toEqual(MIGRATIONS.filter((m) => m.id >= 5).map((m) => m.id));
        read = await makeDriver(legacy);
        await read.connect();
        expect((await decisionHistory(read, ['org-a'], 'd-1')).map((d) => [d.version, d.status, d.updatedAt])).toEqual([[1, 'proposed', t], [2, 'active', t + 500]]);
        expect(await getDecision(read, ['org-a'], 'd-2')).toMatchObject({ version: 1, status: 'active', indicatorValue: '198.51.100.8', tlp: 'green', activatedAt: t, expiresAt: t + 86_400_000 });
        const tables = await driver.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: legacy, t: 'api_decisions' });
        expect(tables).toEqual([]);
        // A re-run of its statements (as after a failure midway) copies nothing twice.
        for (const statement of m5.statements) await driver.exec(statement.replaceAll('{db}', legacy));
        const n = await driver.query<{ n: unknown }>(`SELECT count() AS n FROM ${legacy}.decision_versions`);
        expect(Number(n[0]?.n)).toBe(3);
        // And the next version of a migrated decision follows on.
        expect(await changeDecision(read, ['org-a'], 'd-1', 2, { status: 'revoked', decidedBy: 'key:carol', decisionReason: 'fp' })).toMatchObject({ version: 3, status: 'revoked', activatedAt: t + 500 });
      } finally {
        await read?.close();
        await driver.exec(`DROP DATABASE IF EXISTS ${legacy}`);
      }
    });

    it('reports pending migrations on an empty database', async () => {
      const status = await migrationStatus(driver, { database: `${database}_absent` });
      expect(status.every((s) => s.state === 'pending')).toBe(true);
    });

    it('inserts events and reads them back unchanged', async () => {
      const rows = Array.from({ length: 30 }, (_, i) => event(i));
      await insertEvents(driver, rows);
      const back = await listEvents(driver, { limit: 1000 });
      expect(back).toHaveLength(30);
      const byId = new Map(back.map((r) => [r.eventId, r]));
      for (const row of rows) expect(byId.get(row.eventId)).toEqual(row);
      expect(back[0]?.eventId).toBe('ev-29');
    });

    it('filters events by org, time, source and destination address', async () => {
      expect((await listEvents(driver, { orgIds: ['org-a'], limit: 1000 })).every((r) => r.orgId === 'org-a')).toBe(true);
      expect(await listEvents(driver, { orgIds: [] })).toEqual([]);
      const window = await listEvents(driver, { since: base + 10_000, until: base + 20_000, limit: 1000 });
      expect(window.map((r) => r.eventId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `ev-${i + 10}`).sort());
      const v6 = await listEvents(driver, { srcIp: '2001:db8::7', limit: 1000 });
      expect(v6.map((r) => r.eventId).sort()).toEqual(['ev-0', 'ev-12', 'ev-15', 'ev-18', 'ev-21', 'ev-24', 'ev-27', 'ev-3', 'ev-6', 'ev-9']);
      expect((await listEvents(driver, { srcIp: '10.0.0.4' })).map((r) => r.eventId)).toEqual(['ev-4']);
      expect(await listEvents(driver, { dstIp: '192.0.2.2' })).toEqual([]);
      expect(await listEvents(driver, { limit: 5 })).toHaveLength(5);
    });

    it('collapses a replayed event batch to one row per event', async () => {
      const replay = Array.from({ length: 30 }, (_, i) => event(i, { ingestTime: base + 999_999 }));
      await insertEvents(driver, replay);
      const back = await listEvents(driver, { limit: 1000 });
      expect(back).toHaveLength(30);
      expect(back.every((r) => r.ingestTime === base + 999_999)).toBe(true);
    });

    it('drops a retried insert with the same deduplication token', async () => {
      const rows = Array.from({ length: 5 }, (_, i) => event(100 + i));
      const count = async (): Promise<number> =>
        Number((await driver.query<{ n: string }>(`SELECT count() AS n FROM ${database}.events`))[0]?.n);
      const before = await count();
      await insertEvents(driver, rows, { deduplicationToken: 'batch-100' });
      await insertEvents(driver, rows, { deduplicationToken: 'batch-100' });
      expect(await count()).toBe(before + 5);
      await insertEvents(driver, rows, { deduplicationToken: 'batch-100-b' });
      expect(await count()).toBe(before + 10);
    });

    it('inserts detections and lists them newest first with every filter', async () => {
      const rows = Array.from({ length: 25 }, (_, i) => detection(i));
      await insertDetections(driver, rows);

      const all = await listDetections(driver, { limit: 1000 });
      expect(all.detections).toHaveLength(25);
      expect(all.nextCursor).toBeUndefined();
      expect(all.detections.map((d) => d.detectionId)).toEqual(rows.map((d) => d.detectionId).reverse());
      expect(all.detections.find((d) => d.detectionId === 'det-007')).toEqual(rows[7]);

      const orgA = await listDetections(driver, { orgIds: ['org-a'] });
      expect(orgA.detections.map((d) => d.orgId)).toEqual(Array(13).fill('org-a'));
      expect((await listDetections(driver, { orgIds: ['org-a', 'org-b'] })).detections).toHaveLength(25);
      expect((await listDetections(driver, { orgIds: [] })).detections).toEqual([]);

      const window = await listDetections(driver, { since: base + 5_000, until: base + 10_000 });
      expect(window.detections.map((d) => d.detectionId)).toEqual(['det-009', 'det-008', 'det-007', 'det-006', 'det-005']);

      const high = await listDetections(driver, { minSeverity: 'high' });
      expect(high.detections.every((d) => d.severity === 'high' || d.severity === 'critical')).toBe(true);
      expect(high.detections).toHaveLength(10);

      const scans = await listDetections(driver, { ruleId: 'port-scan' });
      expect(scans.detections.map((d) => d.detectionId)).toEqual(['det-024', 'det-021', 'det-018', 'det-015', 'det-012', 'det-009', 'det-006', 'det-003', 'det-000']);

      expect((await listDetections(driver, { srcIp: '10.0.0.3' })).detections.map((d) => d.detectionId)).toEqual(['det-003']);
      expect((await listDetections(driver, { srcIp: '2001:db8::7' })).detections.map((d) => d.detectionId)).toEqual(['det-007']);

      const combined = await listDetections(driver, { orgIds: ['org-b'], minSeverity: 'medium', ruleId: 'beaconing', since: base });
      expect(combined.detections.map((d) => d.detectionId)).toEqual(['det-023', 'det-019', 'det-017', 'det-013', 'det-007']);
    });

    it('pages with a cursor without gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const result = await listDetections(driver, { limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...result.detections.map((d) => d.detectionId));
        cursor = result.nextCursor;
        if (cursor === undefined) break;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `det-${String(24 - i).padStart(3, '0')}`));
      await expect(listDetections(driver, { cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
    });

    it('gets one detection, scoped by org', async () => {
      expect((await getDetection(driver, 'det-004'))?.title).toBe('detection 4');
      expect((await getDetection(driver, 'det-004', ['org-a']))?.orgId).toBe('org-a');
      expect(await getDetection(driver, 'det-004', ['org-b'])).toBeUndefined();
      expect(await getDetection(driver, 'det-004', [])).toBeUndefined();
      expect(await getDetection(driver, 'det-404')).toBeUndefined();
    });

    it('reads the latest version of an updated detection, and one row for a replay', async () => {
      await insertDetections(driver, [detection(4, { version: 5, title: 'updated', count: 99, lastSeen: base + 4_000 + 900 })]);
      await insertDetections(driver, [detection(4, { version: 3, title: 'stale' })]);
      await insertDetections(driver, Array.from({ length: 25 }, (_, i) => (i === 4 ? detection(4, { version: 5, title: 'updated', count: 99, lastSeen: base + 4_900 }) : detection(i))));
      const got = await getDetection(driver, 'det-004');
      expect(got?.title).toBe('updated');
      expect(got?.count).toBe(99);
      expect((await listDetections(driver, { limit: 1000 })).detections).toHaveLength(25);
    });

    it('treats injection strings in every parameter as plain values', async () => {
      for (const text of INJECTIONS) {
        expect((await listDetections(driver, { ruleId: text })).detections).toEqual([]);
        expect((await listDetections(driver, { orgIds: [text, 'org-none'] })).detections).toEqual([]);
        expect(await getDetection(driver, text)).toBeUndefined();
        expect(await getDetection(driver, 'det-001', [text])).toBeUndefined();
        const echo = await driver.query<{ v: string }>('SELECT {v:String} AS v', { v: text });
        expect(echo).toEqual([{ v: text }]);
      }
      await expect(listDetections(driver, { srcIp: "' OR 1=1 --" })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      // Stored as values too, and everything is still there.
      await insertDetections(driver, [detection(900, { ruleId: INJECTIONS[1]!, title: INJECTIONS[0]!, srcIp: '10.0.0.90' })]);
      const stored = await listDetections(driver, { ruleId: INJECTIONS[1]! });
      expect(stored.detections.map((d) => d.title)).toEqual([INJECTIONS[0]]);
      expect(await listEvents(driver, { limit: 1000 })).toHaveLength(35);
    });

    it('rejects bad arguments before they reach the engine', async () => {
      await expect(listDetections(driver, { limit: 1001 })).rejects.toBeInstanceOf(StorageError);
      await expect(listDetections(driver, { limit: 0 })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      await expect(driver.insert('events; DROP TABLE x', [{}])).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
    });

    it('stops a query at its timeout with CLICKHOUSE_TIMEOUT', async () => {
      const error = await driver
        .query('SELECT sum(cityHash64(number)) AS s FROM numbers(100000000000)', {}, { timeoutMs: 300 })
        .then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'CLICKHOUSE_TIMEOUT', clickhouseCode: 159, retryable: true });
      // The driver is usable afterwards.
      expect(await driver.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });

    it('maps engine errors to StorageError codes with ClickHouse codes', async () => {
      await expect(driver.query('SELEC 1')).rejects.toMatchObject({ code: 'CLICKHOUSE_QUERY_FAILED', clickhouseCode: 62, retryable: false });
      await expect(driver.query(`SELECT * FROM ${database}.missing_table`)).rejects.toMatchObject({
        code: 'CLICKHOUSE_QUERY_FAILED',
        clickhouseCode: 60,
      });
      await expect(driver.query('SELECT {n:UInt8} AS n', { n: 'not a number' })).rejects.toMatchObject({ code: 'CLICKHOUSE_QUERY_FAILED' });
      await expect(driver.insert('missing_table', [{ a: 1 }])).rejects.toMatchObject({ code: 'CLICKHOUSE_INSERT_FAILED', clickhouseCode: 60 });
      await expect(driver.insert('events', [{ event_id: 'x', src_ip: 'not an ip' }])).rejects.toMatchObject({ code: 'CLICKHOUSE_INSERT_FAILED' });
    });

    it('searches events by time, CIDR, port and text over dns_query/http_host/tls_sni', async () => {
      const t = base + 2 * 3_600_000;
      await insertEvents(driver, [
        event(500, { time: t, orgId: 'org-s', srcIp: '10.9.1.5', dstIp: '198.51.100.7', dnsQuery: 'Evil.Example.COM', eventClass: 'dns' }),
        event(501, { time: t + 1, orgId: 'org-s', srcIp: '10.9.2.6', dstIp: '198.51.100.8', httpHost: 'cdn.example.net', httpUri: '/a?b=c' }),
        event(502, { time: t + 2, orgId: 'org-s', srcIp: '2001:db8:9::1', dstIp: '2001:db8:ff::2', tlsSni: 'login.bank.test', dstPort: 8443 }),
        event(503, { time: t + 3, orgId: 'org-other', srcIp: '10.9.1.5', dnsQuery: 'evil.example.com' }),
      ]);
      const range = { since: t - 1, until: t + 1000 };
      const ids = async (q: Partial<Parameters<typeof searchEvents>[2]>, orgs = ['org-s']) =>
        (await searchEvents(driver, orgs, { ...range, ...q })).map((e) => e.eventId).sort();
      expect(await ids({})).toEqual(['ev-500', 'ev-501', 'ev-502']);
      expect(await ids({}, [])).toEqual([]);
      expect(await ids({ srcIp: '10.9.0.0/16' })).toEqual(['ev-500', 'ev-501']);
      expect(await ids({ srcIp: '::ffff:10.9.1.0/120' })).toEqual(['ev-500']);
      expect(await ids({ ip: '2001:db8:ff::/48' })).toEqual(['ev-502']);
      expect(await ids({ dstPort: 8443 })).toEqual(['ev-502']);
      expect(await ids({ port: 8443 })).toEqual(['ev-502']);
      expect(await ids({ text: 'EXAMPLE' })).toEqual(['ev-500', 'ev-501']);
      expect(await ids({ text: 'bank' })).toEqual(['ev-502']);
      expect(await ids({ text: '100%_' })).toEqual([]);
      expect(await ids({ eventClass: 'dns' })).toEqual(['ev-500']);
      const [found] = await searchEvents(driver, ['org-s'], { ...range, text: 'evil' });
      expect(found).toMatchObject({ dnsQuery: 'Evil.Example.COM', orgId: 'org-s' });
      await expect(searchEvents(driver, ['org-s'], { since: t, until: t + 40 * 86_400_000 })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      await expect(searchEvents(driver, ['org-s'], { ...range, srcIp: '10.0.0.0/33' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      for (const text of INJECTIONS) expect(await ids({ text })).toEqual([]);
    });

    it('keeps triage history and the current state, and filters detections by it', async () => {
      const orgs = ['org-a'];
      expect(await getDetectionState(driver, orgs, 'det-002')).toBeUndefined();
      const first = await appendDetectionState(driver, orgs, { detectionId: 'det-002', orgId: 'org-a', status: 'acknowledged', assignee: 'alice', changedBy: 'alice' });
      expect(first.version).toBe(1);
      await expect(
        appendDetectionState(driver, orgs, { detectionId: 'det-002', orgId: 'org-a', status: 'resolved', changedBy: 'bob', expectedVersion: 0 }),
      ).rejects.toMatchObject({ code: 'STORAGE_VERSION_CONFLICT' });
      const second = await appendDetectionState(driver, orgs, { detectionId: 'det-002', orgId: 'org-a', status: 'in_progress', note: 'looking', changedBy: 'alice', expectedVersion: 1 });
      expect(second).toMatchObject({ version: 2, assignee: 'alice' });
      await appendDetectionState(driver, orgs, { detectionId: 'det-004', orgId: 'org-a', status: 'false_positive', assignee: 'bob', changedBy: 'bob' });
      await expect(appendDetectionState(driver, ['org-b'], { detectionId: 'det-002', orgId: 'org-a', status: 'resolved', changedBy: 'x' })).rejects.toMatchObject({
        code: 'STORAGE_INVALID_ARGUMENT',
      });
      expect((await getDetectionState(driver, orgs, 'det-002'))?.status).toBe('in_progress');
      expect(await getDetectionState(driver, ['org-b'], 'det-002')).toBeUndefined();
      expect((await listDetectionStates(driver, orgs, 'det-002')).map((s) => s.status)).toEqual(['in_progress', 'acknowledged']);

      const ids = async (q: Parameters<typeof listDetections>[1]) => (await listDetections(driver, { orgIds: orgs, limit: 1000, ...q })).detections.map((d) => d.detectionId);
      expect(await ids({ status: 'in_progress' })).toEqual(['det-002']);
      expect(await ids({ status: ['false_positive', 'in_progress'] })).toEqual(['det-004', 'det-002']);
      const fresh = await ids({ status: 'new' });
      expect(fresh).not.toContain('det-002');
      expect(fresh).not.toContain('det-004');
      expect(fresh).toContain('det-006');
      expect(await ids({ assignee: 'bob' })).toEqual(['det-004']);
      expect(await ids({ assignee: '' })).not.toContain('det-002');
      const page = await listDetections(driver, { orgIds: orgs, limit: 1000, includeState: true });
      expect(page.states?.['det-002']?.status).toBe('in_progress');
      expect(page.states?.['det-006']).toBeUndefined();
    });

    it('filters detections by technique, entity CIDR and title text, and sorts with cursors', async () => {
      await insertDetections(driver, [
        detection(40, { orgId: 'org-t', techniques: ['T1071.001'], title: 'Beacon to C2', srcIp: '10.20.0.5', severity: 'low' }),
        detection(41, { orgId: 'org-t', techniques: ['T1046'], title: 'Port scan', srcIp: '2001:db8:20::5', severity: 'critical' }),
        detection(42, { orgId: 'org-t', techniques: ['T1071'], title: 'beacon again', entityType: 'ip', entityValue: '10.30.0.9', srcIp: '192.0.2.99', severity: 'high' }),
      ]);
      const ids = async (q: Parameters<typeof listDetections>[1]) => (await listDetections(driver, { orgIds: ['org-t'], ...q })).detections.map((d) => d.detectionId);
      expect(await ids({ technique: 'T1071' })).toEqual(['det-042', 'det-040']);
      expect(await ids({ technique: 'T1071.001' })).toEqual(['det-040']);
      expect(await ids({ entityIp: '10.20.0.0/16' })).toEqual(['det-040']);
      expect(await ids({ entityIp: '10.30.0.9' })).toEqual(['det-042']);
      expect(await ids({ entityIp: '2001:db8:20::/48' })).toEqual(['det-041']);
      expect(await ids({ text: 'BEACON' })).toEqual(['det-042', 'det-040']);
      expect(await ids({ sort: 'severity' })).toEqual(['det-041', 'det-042', 'det-040']);
      expect(await ids({ sort: 'first_seen', order: 'asc' })).toEqual(['det-040', 'det-041', 'det-042']);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 5; i++) {
        const page = await listDetections(driver, { orgIds: ['org-t'], sort: 'severity', limit: 1, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.detections.map((d) => d.detectionId));
        cursor = page.nextCursor;
        if (cursor === undefined) break;
      }
      expect(seen).toEqual(['det-041', 'det-042', 'det-040']);
      const other = (await listDetections(driver, { orgIds: ['org-t'], limit: 1 })).nextCursor!;
      await expect(listDetections(driver, { orgIds: ['org-t'], sort: 'severity', cursor: other })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      for (const text of INJECTIONS) expect(await ids({ text })).toEqual([]);
    });

    it('lists from detection_heads, detections_by_time and detections_by_ip exactly what detections FINAL lists, for every filter, sort and page', async () => {
      // Versions that move last_seen (the sort key of detections_by_time) and a stale version after them.
      await insertDetections(driver, [detection(43, { orgId: 'org-v', version: 1, lastSeen: base + 50_000 }), detection(44, { orgId: 'org-v', severity: 'critical' })]);
      await insertDetections(driver, [detection(43, { orgId: 'org-v', version: 2, lastSeen: base + 90_000, title: 'beacon moved', severity: 'high' })]);
      await insertDetections(driver, [detection(44, { orgId: 'org-v', version: 0, severity: 'info' })]);
      // Address filters (detections_by_ip): an entity address apart from the source, an entity that is
      // not an address, an unparseable ip entity (the filter reads it as ::), and a detection whose
      // source and entity both fall in one range (stored under each, listed once).
      await insertDetections(driver, [
        detection(45, { orgId: 'org-v', srcIp: '192.0.2.45', entityValue: '10.9.0.45' }),
        detection(46, { orgId: 'org-v', entityType: 'user', entityValue: 'alice', srcIp: '10.9.0.46' }),
        detection(47, { orgId: 'org-v', entityValue: 'not-an-address', srcIp: '198.51.100.47' }),
        detection(48, { orgId: 'org-v', srcIp: '10.9.0.48', entityValue: '10.9.1.48' }),
      ]);
      await insertDetections(driver, [detection(48, { orgId: 'org-v', srcIp: '10.9.0.48', entityValue: '10.9.1.48', version: 2, lastSeen: base + 95_000, severity: 'critical' })]);
      const queries: Parameters<typeof listDetections>[1][] = [
        {},
        { orgIds: ['org-a'] },
        { orgIds: ['org-t', 'org-v', 'org-b'] },
        { orgIds: ['org-a'], since: base + 5_000, until: base + 20_000 },
        { minSeverity: 'high' },
        { ruleId: 'port-scan' },
        { srcIp: '10.0.0.3' },
        { status: 'in_progress' },
        { status: ['new', 'acknowledged'], orgIds: ['org-a'] },
        { assignee: 'bob' },
        { assignee: '' },
        { technique: 'T1071' },
        { entityIp: '10.0.0.0/8' },
        { entityIp: '2001:db8:20::/48' },
        { text: 'beacon' },
        { sort: 'severity' },
        { sort: 'first_seen', order: 'asc' },
        { sort: 'last_seen', order: 'asc', minSeverity: 'low' },
        { orgIds: ['org-v'], includeState: true },
        { entityIp: '10.9.0.0/16' },
        { entityIp: '10.9.0.0/16', sort: 'severity' },
        { entityIp: '10.9.0.0/16', sort: 'first_seen', order: 'asc', minSeverity: 'low' },
        { entityIp: '10.9.1.48', orgIds: ['org-v'], includeState: true },
        { entityIp: '192.0.2.45' },
        { entityIp: '::/0' },
        { entityIp: '::/128' },
        { entityIp: '::ffff:10.9.0.0/112', status: ['new'] },
        { entityIp: '10.0.0.0/8', orgIds: ['org-b'], text: 'detection' },
      ];
      let compared = 0;
      // Each query also with a window within RECENT_HEADS_DAYS (picked on detection_heads_recent)
      // and one beyond it (detection_heads), where the query has none of its own.
      const windows = queries.flatMap((q) => (q?.since === undefined ? [q, { ...q, since: base - 20 * DAY }, { ...q, since: base - 40 * DAY }] : [q]));
      for (const q of windows) {
        for (const limit of [3, 1000]) {
          let cursor: string | undefined;
          for (let page = 0; page < 20; page++) {
            const args = { ...q, limit, ...(cursor === undefined ? {} : { cursor }) };
            const [narrow, wide] = await Promise.all([listDetections(driver, args), listDetectionsFromDetections(driver, args)]);
            expect(narrow, JSON.stringify(args)).toEqual(wide);
            compared += narrow.detections.length;
            cursor = narrow.nextCursor;
            if (cursor === undefined) break;
          }
        }
      }
      expect(compared).toBeGreaterThan(100);
      const moved = (await listDetections(driver, { orgIds: ['org-v'], limit: 1000 })).detections.find((d) => d.detectionId === 'det-043');
      expect(moved).toMatchObject({ version: 2, title: 'beacon moved', lastSeen: base + 90_000 });
      expect((await listDetections(driver, { orgIds: ['org-v'], limit: 1000 })).detections.find((d) => d.detectionId === 'det-044')?.severity).toBe('critical');
      // With a row cache: the same pages, cold and warm; a new version is read, not served from the
      // cache; another organization's scope never gets a cached row of this one. Address lists
      // (detections_by_ip) included.
      const cache = new DetectionRowCache(1 << 22);
      for (const q of queries) {
        for (const round of ['cold', 'warm']) {
          let cursor: string | undefined;
          for (let page = 0; page < 20; page++) {
            const args = { ...q, limit: 3, ...(cursor === undefined ? {} : { cursor }) };
            const [cached, plain] = await Promise.all([listDetections(driver, args, {}, cache), listDetections(driver, args)]);
            expect(cached, `${round} ${JSON.stringify(args)}`).toEqual(plain);
            cursor = plain.nextCursor;
            if (cursor === undefined) break;
          }
        }
      }
      expect(cache.stats.hits).toBeGreaterThan(100);
      expect((await listDetections(driver, { orgIds: ['org-v'], limit: 1000 }, {}, cache)).detections.find((d) => d.detectionId === 'det-043')?.version).toBe(2);
      await insertDetections(driver, [detection(43, { orgId: 'org-v', version: 3, lastSeen: base + 96_000, title: 'beacon moved again' })]);
      expect((await listDetections(driver, { orgIds: ['org-v'], limit: 1000 }, {}, cache)).detections.find((d) => d.detectionId === 'det-043')).toMatchObject({ version: 3, title: 'beacon moved again' });
      expect((await listDetections(driver, { orgIds: ['org-zz'], limit: 1000 }, {}, cache)).detections).toEqual([]);
      for (const d of (await listDetections(driver, { orgIds: ['org-b'], limit: 1000 }, {}, cache)).detections) expect(d.orgId).toBe('org-b');

      // The address list: each detection once, at its latest version, under source or entity address.
      const byIp = await listDetections(driver, { orgIds: ['org-v'], entityIp: '10.9.0.0/16', limit: 1000 });
      expect(byIp.detections.map((d) => [d.detectionId, d.version])).toEqual([['det-048', 2], ['det-046', 1], ['det-045', 1]]);
      expect((await listDetections(driver, { orgIds: ['org-v'], entityIp: '::' })).detections.map((d) => d.detectionId)).toEqual(['det-047']);
    });

    it('picks a window within RECENT_HEADS_DAYS on detection_heads_recent exactly as detections FINAL, after its TTL dropped old versions and old detections; 0009 back-fills the last 35 days', async () => {
      const now = Date.now();
      const old = { firstSeen: now - 61 * DAY, lastSeen: now - 60 * DAY, detectedAt: now - 60 * DAY };
      // det-060: a version of 60 days ago and a current one; det-061: only 60 days old; det-062: current.
      await insertDetections(driver, [detection(60, { orgId: 'org-r', version: 1, ...old }), detection(61, { orgId: 'org-r', ...old })]);
      await insertDetections(driver, [detection(60, { orgId: 'org-r', version: 2, ...old, lastSeen: now - 1_000, title: 'still active' }), detection(62, { orgId: 'org-r' })]);
      await driver.exec(`OPTIMIZE TABLE ${database}.detection_heads_recent FINAL`);
      const kept = await driver.query<{ id: string; v: number }>(
        `SELECT detection_id AS id, toUInt32(version) AS v FROM ${database}.detection_heads_recent WHERE org_id = 'org-r' ORDER BY id, v`,
      );
      expect(kept).toEqual([{ id: 'det-060', v: 2 }, { id: 'det-062', v: 1 }]);
      for (const since of [now - 7 * DAY, now - 30 * DAY, now - 90 * DAY]) {
        for (const q of [{ orgIds: ['org-r'], since }, { orgIds: ['org-r'], since, sort: 'first_seen' as const, order: 'asc' as const }, { since, minSeverity: 'low' as const }]) {
          expect(await listDetections(driver, { ...q, limit: 1000 }), JSON.stringify(q)).toEqual(await listDetectionsFromDetections(driver, { ...q, limit: 1000 }));
        }
      }
      const recent = await listDetections(driver, { orgIds: ['org-r'], since: now - 7 * DAY });
      expect(recent.detections.map((d) => [d.detectionId, d.version, d.title])).toEqual([['det-060', 2, 'still active'], ['det-062', 1, 'detection 62']]);
      expect((await listDetections(driver, { orgIds: ['org-r'], since: now - 90 * DAY })).detections.map((d) => d.detectionId)).toEqual(['det-060', 'det-062', 'det-061']);

      const earlier = `${database}_pre0009`;
      let read: StorageDriver | undefined;
      try {
        await migrate(driver, { database: earlier, migrations: MIGRATIONS.filter((m) => m.id < 9) });
        read = await makeDriver(earlier);
        await read.connect();
        await insertDetections(read, [detection(63, { orgId: 'org-r', ...old }), detection(64, { orgId: 'org-r' })]);
        await insertDetections(read, [detection(64, { orgId: 'org-r', version: 2, lastSeen: now - 2_000 })]);
        expect((await migrate(driver, { database: earlier })).applied.map((m) => m.id)).toEqual(MIGRATIONS.filter((m) => m.id >= 9).map((m) => m.id));
        // The versions of the last 35 days only (det-063 is 60 days old).
        const backFilled = await read.query<{ id: string; v: number }>(`SELECT detection_id AS id, toUInt32(version) AS v FROM ${earlier}.detection_heads_recent FINAL ORDER BY id`);
        expect(backFilled).toEqual([{ id: 'det-064', v: 2 }]);
        const q = { orgIds: ['org-r'], since: now - 7 * DAY, limit: 10 };
        expect(await listDetections(read, q)).toEqual(await listDetectionsFromDetections(read, q));
        expect((await listDetections(read, q)).detections.map((d) => [d.detectionId, d.version])).toEqual([['det-064', 2]]);
      } finally {
        await read?.close();
        await driver.exec(`DROP DATABASE IF EXISTS ${earlier}`);
      }
    });

    it('appends audit entries, indicators and versioned decisions, org-scoped', async () => {
      const orgs = ['org-a'];
      const entry = await appendAudit(driver, orgs, { orgId: 'org-a', actor: 'alice', action: 'detection.status_changed', targetType: 'detection', targetId: 'det-002', afterJson: '{"status":"in_progress"}', requestId: 'r1' });
      await appendAudit(driver, orgs, { ...entry }); // a retry with the same id is dropped
      await appendAudit(driver, orgs, { orgId: 'org-a', actor: 'bob', action: 'decision.approved', targetType: 'decision', targetId: 'dec-1' });
      expect((await listAudit(driver, orgs, { targetType: 'detection', targetId: 'det-002' })).map((a) => a.id)).toEqual([entry.id]);
      expect(await listAudit(driver, ['org-b'])).toEqual([]);
      await expect(appendAudit(driver, ['org-b'], { orgId: 'org-a', actor: 'x', action: 'y', targetType: 'z', targetId: 'w' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });

      const now = Date.now();
      const ind = await insertIndicator(driver, orgs, { orgId: 'org-a', kind: 'domain', value: 'evil.example.com', source: 'analyst', createdBy: 'alice', validFrom: now - 1000, validUntil: now + 60_000, tlp: 'amber' });
      await insertIndicator(driver, orgs, { orgId: 'org-a', kind: 'ipv4', value: '203.0.113.9', source: 'feed', createdBy: 'feed', validFrom: now - 10_000, validUntil: now - 5_000 });
      await insertIndicator(driver, orgs, { ...ind, confidence: 0.9, version: ind.version + 1 });
      const active = await listIndicators(driver, orgs, { activeAt: now });
      expect(active.map((i) => [i.value, i.confidence])).toEqual([['evil.example.com', 0.9]]);
      expect(await listIndicators(driver, orgs, { kind: 'ipv4' })).toHaveLength(1);
      expect(await listIndicators(driver, ['org-b'])).toEqual([]);
    });

    it('versions decisions: history kept, exactly one of two racing changes of a version wins', async () => {
      const orgs = ['org-a'];
      const now = Date.now();
      const base: NewDecision = {
        orgId: 'org-a', action: 'share', status: 'proposed', targetKind: 'indicator', detectionId: '', indicatorType: 'domain', indicatorValue: 'evil.example.com',
        justification: 'C2', tlp: 'amber', shareWith: ['partner-1'], requestedBy: 'alice', createdAt: now - 1000, expiresAt: now + 60_000,
      };
      const proposed = await createDecision(driver, orgs, base);
      expect(proposed).toMatchObject({ version: 1, status: 'proposed', activatedAt: 0 });
      await expect(createDecision(driver, ['org-b'], base)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      await expect(createDecision(driver, orgs, { ...base, indicatorType: 'nope' as 'ipv4' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      expect(await listDecisions(driver, orgs, { activeAt: now })).toEqual([]);

      // Both writers pass the version check before either writes: the gate holds their inserts until both arrived.
      const gated = gateInserts(driver, 'decision_versions', 2);
      const race = await Promise.allSettled([
        changeDecision(gated, orgs, proposed.id, 1, { status: 'active', decidedBy: 'bob' }),
        changeDecision(gated, orgs, proposed.id, 1, { status: 'rejected', decidedBy: 'carol', decisionReason: 'collateral' }),
      ]);
      const won = race.filter((r) => r.status === 'fulfilled');
      const lost = race.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_VERSION_CONFLICT' });
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof changeDecision>>>).value;
      const current = await getDecision(driver, orgs, proposed.id);
      expect(current).toEqual(winner);
      expect((await decisionHistory(driver, orgs, proposed.id)).map((d) => [d.version, d.status])).toEqual([[1, 'proposed'], [2, winner.status]]);
      // The loser's row is not stored at all (the engine dropped it as a duplicate of the version).
      const stored = await driver.query<{ n: unknown }>(`SELECT count() AS n FROM ${database}.decision_versions WHERE decision_id = {id:String}`, { id: proposed.id });
      expect(Number(stored[0]?.n)).toBe(2);
      // A change naming a version that is no longer current writes nothing.
      await expect(changeDecision(driver, orgs, proposed.id, 1, { status: 'revoked', decidedBy: 'dave' })).rejects.toMatchObject({ code: 'STORAGE_VERSION_CONFLICT' });
      expect((await getDecision(driver, orgs, proposed.id))?.version).toBe(2);
      expect(await getDecision(driver, ['org-b'], proposed.id)).toBeUndefined();
      expect(await decisionHistory(driver, ['org-b'], proposed.id)).toEqual([]);

      const active = await createDecision(driver, orgs, { ...base, action: 'block', status: 'active', indicatorType: 'ipv4', indicatorValue: '203.0.113.9', shareWith: [] });
      expect(active.activatedAt).toBe(active.createdAt);
      const later = Date.now();
      expect((await listDecisions(driver, orgs, { activeAt: later })).map((d) => d.id).sort()).toEqual((winner.status === 'active' ? [active.id, proposed.id] : [active.id]).sort());
      expect(await listDecisions(driver, orgs, { activeAt: now + 120_000 })).toEqual([]);
      expect((await listDecisions(driver, orgs, { statuses: ['proposed'] }))).toEqual([]);
      expect((await listDecisions(driver, orgs, { sharedWith: 'partner-1' })).map((d) => d.version)).toEqual([2]);
      expect((await listDecisions(driver, orgs, { indicatorType: 'ipv4', indicatorValue: '203.0.113.9', actions: ['block'] })).map((d) => d.id)).toEqual([active.id]);
      expect((await listDecisions(driver, undefined, { ids: [active.id] })).map((d) => d.orgId)).toEqual(['org-a']);
      expect(await listDecisions(driver, [], {})).toEqual([]);
      for (const text of INJECTIONS) expect(await listDecisions(driver, orgs, { indicatorValue: text, sharedWith: text })).toEqual([]);
      const revoked = await changeDecision(driver, orgs, active.id, 1, { status: 'revoked', decidedBy: 'bob', decisionReason: 'fp' });
      expect(revoked).toMatchObject({ version: 2, activatedAt: active.activatedAt, decisionReason: 'fp' });
      expect(revoked.updatedAt).toBeGreaterThan(active.updatedAt);
      expect((await listDecisions(driver, orgs, { activeAt: Date.now() })).map((d) => d.id)).not.toContain(active.id);
    });

    it('rolls events and detections up per hour through the materialized views', async () => {
      const hour = Math.floor(base / 3_600_000) * 3_600_000 - 5 * 3_600_000;
      await insertEvents(driver, [
        event(600, { orgId: 'org-h', time: hour + 10, srcIp: '10.50.0.1', dstIp: '10.60.0.1', dstPort: 22, bytesOut: 100, bytesIn: 10 }),
        event(601, { orgId: 'org-h', time: hour + 20, srcIp: '10.50.0.1', dstIp: '10.60.0.2', dstPort: 80, bytesOut: 200, bytesIn: 20 }),
        event(602, { orgId: 'org-h', time: hour + 3_600_000, srcIp: '10.50.0.1', dstIp: '10.60.0.2', dstPort: 80, bytesOut: 5, bytesIn: 1 }),
        event(603, { orgId: 'org-h', time: hour + 30, srcIp: '10.60.0.2', dstIp: '10.50.0.1', dstPort: 443, bytesOut: 7, bytesIn: 3 }),
      ], { deduplicationToken: 'hourly-1' });
      // A retried insert (same token) is dropped by the roll-ups too.
      await insertEvents(driver, [event(600, { orgId: 'org-h', time: hour + 10, srcIp: '10.50.0.1', dstIp: '10.60.0.1', dstPort: 22, bytesOut: 100, bytesIn: 10 })], { deduplicationToken: 'hourly-1' });
      const hours = await entityHourly(driver, ['org-h'], '10.50.0.1', hour, hour + 2 * 3_600_000);
      expect(hours).toEqual([
        { hour, connsAsSrc: 2, connsAsDst: 1, bytesSent: 303, bytesReceived: 37, peers: 2, ports: 3 },
        { hour: hour + 3_600_000, connsAsSrc: 1, connsAsDst: 0, bytesSent: 5, bytesReceived: 1, peers: 1, ports: 1 },
      ]);
      expect(await entityHourly(driver, ['org-x'], '10.50.0.1', hour, hour + 2 * 3_600_000)).toEqual([]);
      // Events per sensor and hour of ingestion (migration 0010), the retried insert dropped there too.
      const ingested = await driver.query<{ n: unknown }>(`SELECT sum(events) AS n FROM ${database}.sensor_ingest_hourly WHERE org_id = 'org-h'`);
      expect(Number(ingested[0]?.n)).toBe(4);
      const top = await topEntities(driver, ['org-h'], hour, hour + 2 * 3_600_000, { by: 'bytes_sent', limit: 2 });
      expect(top.map((e) => [e.ip, e.bytesSent])).toEqual([['10.50.0.1', 308], ['10.60.0.2', 28]]);
      await expect(entityHourly(driver, ['org-h'], '10.50.0.1', hour, hour + 500 * 86_400_000)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      // The hours overlapping [since, until), to the millisecond: a since inside an hour takes that
      // hour; an until 1 ms past an hour's start takes the hour, exactly at its start does not.
      const hoursIn = async (since: number, until: number) => (await entityHourly(driver, ['org-h'], '10.50.0.1', since, until)).map((h) => h.hour);
      expect(await hoursIn(hour + 3_599_999, hour + 3_600_000)).toEqual([hour]);
      expect(await hoursIn(hour + 1, hour + 3_600_001)).toEqual([hour, hour + 3_600_000]);
      expect(await hoursIn(hour + 3_600_000, hour + 3_600_001)).toEqual([hour + 3_600_000]);
      expect(await hoursIn(hour - 3_600_000, hour)).toEqual([]);
      // Bounds outside DateTime's range clamp instead of wrapping.
      expect(await hoursIn(-86_400_000, 3_600_000)).toEqual([]);
      expect(await hoursIn(4_294_967_295_000 - 86_400_000, 4_294_967_295_000 + 86_400_000)).toEqual([]);
      expect((await topEntities(driver, ['org-h'], hour + 3_599_999, hour + 3_600_001, { by: 'connections' })).map((e) => [e.ip, e.connections])).toEqual([
        ['10.50.0.1', 4],
        ['10.60.0.2', 3],
        ['10.60.0.1', 1],
      ]);

      await insertDetections(driver, [
        detection(700, { orgId: 'org-h', firstSeen: hour + 5, lastSeen: hour + 6, severity: 'high', ruleId: 'r1', srcIp: '10.0.7.0' }),
        detection(701, { orgId: 'org-h', firstSeen: hour + 7, lastSeen: hour + 8, severity: 'high', ruleId: 'r2', srcIp: '10.0.7.1' }),
        detection(700, { orgId: 'org-h', firstSeen: hour + 5, lastSeen: hour + 9, severity: 'high', ruleId: 'r1', srcIp: '10.0.7.0', version: 2 }),
      ]);
      expect(await detectionCountsHourly(driver, ['org-h'], hour, hour + 3_600_000, 'severity')).toEqual([{ hour, key: 'high', count: 2 }]);
      expect(await detectionCountsHourly(driver, ['org-h'], hour, hour + 3_600_000, 'rule')).toEqual([
        { hour, key: 'r1', count: 1 },
        { hour, key: 'r2', count: 1 },
      ]);
    });

    it('ranks an address\'s peers and ports from the hourly roll-ups, and searches either side once', async () => {
      const hour = Math.floor(base / 3_600_000) * 3_600_000 - 8 * 3_600_000;
      await insertEvents(driver, [
        event(650, { orgId: 'org-p', time: hour + 10, srcIp: '10.70.0.1', dstIp: '10.80.0.1', dstPort: 22, bytesOut: 100, bytesIn: 10 }),
        event(651, { orgId: 'org-p', time: hour + 20, srcIp: '10.70.0.1', dstIp: '10.80.0.2', dstPort: 443, bytesOut: 200, bytesIn: 20 }),
        event(652, { orgId: 'org-p', time: hour + 3_600_000, srcIp: '10.70.0.1', dstIp: '10.80.0.2', dstPort: 443, bytesOut: 5, bytesIn: 1 }),
        event(653, { orgId: 'org-p', time: hour + 30, srcIp: '10.80.0.2', dstIp: '10.70.0.1', dstPort: 8080, protocol: 'udp', bytesOut: 7, bytesIn: 3 }),
        event(654, { orgId: 'org-q', time: hour + 40, srcIp: '10.70.0.1', dstIp: '10.99.0.9', dstPort: 25, bytesOut: 1, bytesIn: 1 }),
      ]);
      const top = await entityTop(driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000, 10);
      expect(top.peers).toEqual([
        { ip: '10.80.0.2', connections: 3, bytes: 236 },
        { ip: '10.80.0.1', connections: 1, bytes: 110 },
      ]);
      expect(top.ports).toEqual([
        { port: 443, protocol: 'tcp', connections: 2 },
        { port: 22, protocol: 'tcp', connections: 1 },
        { port: 8080, protocol: 'udp', connections: 1 },
      ]);
      // The destination side has its own rows: 10.80.0.2 saw 10.70.0.1 three times.
      expect((await entityTop(driver, ['org-p'], '10.80.0.2', hour, hour + 2 * 3_600_000, 10)).peers).toEqual([{ ip: '10.70.0.1', connections: 3, bytes: 236 }]);
      const one = await entityTop(driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000, 1);
      expect([one.peers.length, one.ports]).toEqual([1, [{ port: 443, protocol: 'tcp', connections: 2 }]]);
      expect(await entityTop(driver, ['org-p'], '10.70.0.1', hour + 3_600_000 + 1, hour + 3_600_000 + 2, 10)).toEqual(
        await entityTop(driver, ['org-p'], '10.70.0.1', hour + 3_600_000, hour + 2 * 3_600_000, 10),
      );
      expect(await entityTop(driver, ['org-p'], '10.70.0.1', hour + 3_600_000, hour + 2 * 3_600_000, 10)).toEqual({
        peers: [{ ip: '10.80.0.2', connections: 1, bytes: 6 }],
        ports: [{ port: 443, protocol: 'tcp', connections: 1 }],
      });
      expect((await entityTop(driver, ['org-q'], '10.70.0.1', hour, hour + 2 * 3_600_000, 10)).peers).toEqual([{ ip: '10.99.0.9', connections: 1, bytes: 2 }]);
      // Split at the second hour: the whole range's top list, and the first hour's ranking with its own totals.
      const split = hour + 3_600_000;
      const peersSplit = await entityPeersSplit(driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000, split, 1, 5);
      expect(peersSplit.top).toEqual([{ ip: '10.80.0.2', sortKey: '::ffff:10.80.0.2', connections: 3, bytes: 236 }]);
      expect(peersSplit.before).toEqual(await entityPeerTotals(driver, ['org-p'], '10.70.0.1', hour, split, 10));
      expect(peersSplit.before.map((p) => [p.ip, p.connections, p.bytes])).toEqual([
        ['10.80.0.2', 2, 230],
        ['10.80.0.1', 1, 110],
      ]);
      // k + 1 rows at most; rows with nothing before the split are left out of `before`.
      expect((await entityPeersSplit(driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000, split, 10, 0)).before.map((p) => p.ip)).toEqual(['10.80.0.2']);
      expect((await entityPeersSplit(driver, ['org-p'], '10.70.0.1', hour + 3_600_000, hour + 2 * 3_600_000, split, 10, 5)).before).toEqual([]);
      const portsSplit = await entityPortsSplit(driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000, split, 10, 5);
      expect(portsSplit.top).toEqual(top.ports);
      expect(portsSplit.before).toEqual([
        { port: 22, protocol: 'tcp', connections: 1 },
        { port: 443, protocol: 'tcp', connections: 1 },
        { port: 8080, protocol: 'udp', connections: 1 },
      ]);
      await expect(entityPeersSplit(driver, ['org-p'], '10.70.0.1', hour, hour + 1, hour + 1, 10, 5)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      // The timeline and both lists ranked against candidates (the entity cache's live read): a candidate
      // found gets its given totals added; n + 1 candidates and n + 1 others at most. Ranked here from
      // the rows read whole, and (wholeMax 0: more rows than it reads whole) ranked in the engine.
      const rangeArgs = [driver, ['org-p'], '10.70.0.1', hour, hour + 2 * 3_600_000] as const;
      const none = { keys: [], connections: [] };
      // Both sources: entity_recent (migration 0011) and the three hourly roll-ups.
      for (const [wholeMax, source] of [[RANGE_WHOLE_MAX, 'recent'], [RANGE_WHOLE_MAX, 'hourly'], [0, 'recent'], [0, 'hourly']] as const) {
        const ranked = await entityRange(...rangeArgs, 1, { keys: ['::ffff:10.80.0.1', '::ffff:10.9.9.9'], connections: [100, 50], bytes: [5, 5] }, { keys: ['22/tcp'], connections: [7] }, {}, wholeMax, source);
        expect(ranked.timeline).toEqual(await entityHourly(...rangeArgs));
        expect(ranked.peers).toEqual({
          candidates: [{ ip: '10.80.0.1', sortKey: '::ffff:10.80.0.1', connections: 101, bytes: 115 }],
          others: [{ ip: '10.80.0.2', sortKey: '::ffff:10.80.0.2', connections: 3, bytes: 236 }],
        });
        expect(ranked.ports).toEqual({
          candidates: [{ port: 22, protocol: 'tcp', connections: 8 }],
          others: [
            { port: 443, protocol: 'tcp', connections: 2 },
            { port: 8080, protocol: 'udp', connections: 1 },
          ],
        });
        expect((await entityRange(...rangeArgs, 0, none, none, {}, wholeMax, source)).ports.others).toEqual([{ port: 443, protocol: 'tcp', connections: 2 }]);
        expect((await entityRange(...rangeArgs, 10, none, none, {}, wholeMax, source)).peers.others).toEqual(await entityPeerTotals(...rangeArgs, 10));
        expect((await entityRange(...rangeArgs, 10, none, none, {}, wholeMax, source)).ports.others).toEqual(await entityPortTotals(...rangeArgs, 10));
        // First/last seen count the hours from `since` on, those after `until` too; the timeline stops at `until`.
        expect(ranked.seenHours).toEqual({ first: hour, last: hour + 3_600_000 });
      }
      for (const source of ['recent', 'hourly'] as const) {
        // The first hour only: the second hour counts in seenHours, not in the timeline or the lists.
        const firstHourOnly = await entityRange(driver, ['org-p'], '10.70.0.1', hour, hour + 1, 10, none, none, {}, RANGE_WHOLE_MAX, source);
        expect(firstHourOnly.timeline).toEqual(await entityHourly(driver, ['org-p'], '10.70.0.1', hour, hour + 1));
        expect(firstHourOnly.timeline.map((h) => h.hour)).toEqual([hour]);
        expect(firstHourOnly.seenHours).toEqual({ first: hour, last: hour + 3_600_000 });
        expect(firstHourOnly.peers.others).toEqual(await entityPeerTotals(driver, ['org-p'], '10.70.0.1', hour, hour + 1, 10));
        expect(firstHourOnly.ports.others).toEqual(await entityPortTotals(driver, ['org-p'], '10.70.0.1', hour, hour + 1, 10));
        expect(firstHourOnly.peers.others.map((p) => [p.ip, p.connections, p.bytes])).toEqual([['10.80.0.2', 2, 230], ['10.80.0.1', 1, 110]]);
        expect((await entityRange(driver, ['org-p'], '10.70.0.1', hour + 3_600_000, hour + 3_600_000 + 1, 1, none, none, {}, RANGE_WHOLE_MAX, source)).seenHours).toEqual({ first: hour + 3_600_000, last: hour + 3_600_000 });
        expect((await entityRange(driver, ['org-p'], '10.70.0.1', hour + 2 * 3_600_000, hour + 3 * 3_600_000, 1, none, none, {}, RANGE_WHOLE_MAX, source)).seenHours).toBeUndefined();
        // Another organization's rows stay out.
        expect((await entityRange(driver, ['org-q'], '10.70.0.1', hour, hour + 2 * 3_600_000, 10, none, none, {}, RANGE_WHOLE_MAX, source)).peers.others.map((p) => p.ip)).toEqual(['10.99.0.9']);
      }
      // entity_recent keeps the last two days: a range starting earlier is read from the hourly roll-ups.
      const old = Math.floor(base / 3_600_000) * 3_600_000 - 3 * 86_400_000;
      await insertEvents(driver, [event(655, { orgId: 'org-p', time: old + 10, srcIp: '10.70.0.7', dstIp: '10.80.0.7', dstPort: 22, bytesOut: 1, bytesIn: 1 })]);
      expect((await entityRange(driver, ['org-p'], '10.70.0.7', old, old + 3_600_000, 1, none, none, {}, RANGE_WHOLE_MAX, 'recent')).timeline).toEqual([]);
      const oldRange = await entityRange(driver, ['org-p'], '10.70.0.7', old, old + 3_600_000, 1, none, none);
      expect(oldRange.timeline.map((h) => [h.hour, h.connsAsSrc, h.peers])).toEqual([[old, 1, 1]]);
      expect(oldRange.peers.others.map((p) => p.ip)).toEqual(['10.80.0.7']);
      expect(await entityRange(driver, [], '10.70.0.1', hour, hour + 1, 1, none, none)).toEqual({ timeline: [], peers: { candidates: [], others: [] }, ports: { candidates: [], others: [] } });
      await expect(entityRange(...rangeArgs, 1, { keys: ['a'], connections: [] }, none)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      await expect(entityRange(...rangeArgs, 1, { keys: ['x'.repeat(65)], connections: [1] }, none)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
      expect(await entityTop(driver, [], '10.70.0.1', hour, hour + 2 * 3_600_000, 10)).toEqual({ peers: [], ports: [] });
      await expect(entityTop(driver, ['org-p'], 'not-an-ip', hour, hour + 1, 10)).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });

      // Either side: an event with both ends in the range comes back once; newest first; limit holds.
      const range = { since: hour, until: hour + 2 * 3_600_000 };
      expect((await searchEvents(driver, ['org-p'], { ...range, ip: '10.0.0.0/8' })).map((e) => e.eventId).sort()).toEqual(['ev-650', 'ev-651', 'ev-652', 'ev-653']);
      expect((await searchEvents(driver, ['org-p'], { ...range, ip: '10.70.0.1', limit: 2 })).map((e) => e.eventId)).toEqual(['ev-652', 'ev-653']);
      expect((await searchEvents(driver, ['org-p'], { ...range, ip: '10.80.0.1' })).map((e) => e.eventId)).toEqual(['ev-650']);
    });

    it('sets the event TTL from retention config', async () => {
      const expression = await applyEventRetention(driver, { defaultDays: 60, byClass: { dns: 30, network_activity: 120 } });
      expect(expression).toContain('multiIf');
      const [row] = await driver.query<{ q: string }>('SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: database, t: 'events' });
      expect(row?.q).toMatch(/TTL .*multiIf/);
      expect(row?.q).toMatch(/ttl_only_drop_parts = 0/);
      await applyEventRetention(driver, { defaultDays: 90 });
      await expect(applyEventRetention(driver, { defaultDays: 90, byClass: { "x' OR 1": 3 } })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT' });
    });

    it('answers ping and refuses use after close', async () => {
      await driver.ping();
      const other = await makeDriver(database);
      await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_NOT_CONNECTED' });
      await other.connect();
      await other.ping();
      await other.close();
      await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_NOT_CONNECTED' });
      // Closing a second driver leaves the first one working.
      await driver.ping();
    });
  });
}
