import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { silentLogger, sleep } from '@mamori/core';
import { DetectionCodec, EventCodec, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { StageRunner, readDeadLetter } from '@mamori/pipeline';
import { StorageError, migrate, type InsertOptions, type QueryOptions, type QueryParams, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import type { Admin, Transport } from '@mamori/transport';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { WriterStage, loadWriterConfig } from '@mamori/writer';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The writer against the real broker and the real embedded ClickHouse (chDB), with ClickHouse
 * "going away". chDB runs in this process, so the outage is a fault injector around the real
 * driver: while `down`, every insert fails with the retryable CLICKHOUSE_UNREACHABLE a server
 * outage produces, without reaching the engine; queries keep working so the test can look inside.
 * `loseNextAck` lets one insert reach the engine and then reports it failed (the answer lost on the
 * way back), so the retry must be dropped by its deduplication token.
 */
class FaultInjectingStorage implements StorageDriver {
  down = false;
  loseNextAck = false;
  failedWhileDown = 0;
  lostAcks = 0;
  readonly name: string;
  readonly database: string;

  constructor(private readonly inner: StorageDriver) {
    this.name = inner.name;
    this.database = inner.database;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }
  exec(sql: string, params?: QueryParams, options?: QueryOptions): Promise<void> {
    return this.inner.exec(sql, params, options);
  }
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams, options?: QueryOptions): Promise<T[]> {
    return this.inner.query<T>(sql, params, options);
  }
  async insert(table: string, rows: readonly Record<string, unknown>[], options?: InsertOptions): Promise<void> {
    if (this.down) {
      this.failedWhileDown += 1;
      throw new StorageError('CLICKHOUSE_UNREACHABLE', 'injected outage: connect ECONNREFUSED (ClickHouse is down)');
    }
    await this.inner.insert(table, rows, options);
    if (this.loseNextAck) {
      this.loseNextAck = false;
      this.lostAcks += 1;
      throw new StorageError('CLICKHOUSE_UNREACHABLE', 'injected: socket reset after the insert was sent (acknowledgement lost)');
    }
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const brokers = inject('kafkaBrokers').split(',');
const PARTITIONS = 3;
const run = randomUUID().slice(0, 8);
const topics = { events: `wf.${run}.events`, detections: `wf.${run}.detections`, dlq: `wf.${run}.dlq` };
const groupId = `wf-${run}-writer`;
const database = `wf_${run}`;
const eventCodec = new EventCodec();
const T0 = Date.now() - 3_600_000;

function event(id: string, i: number, srcIp = `10.1.${(i >> 8) & 255}.${i & 255}`): MamoriEvent {
  return {
    event_id: id,
    event_class: 'network_activity',
    time: T0 + i,
    ingest_time: T0 + i + 5,
    org_id: 'org-faults',
    sensor_id: 'sensor-1',
    source_format: 'zeek.conn',
    src_ip: srcIp,
    src_port: 40_000 + (i % 20_000),
    dst_ip: '192.0.2.10',
    dst_port: 443,
    protocol: 'tcp',
    bytes_out: 100 + i,
    bytes_in: 200,
    packets_out: 1,
    packets_in: 1,
    duration_ms: 10,
    conn_state: 'SF',
    community_id: null,
    raw: { topic: 'telemetry.raw.zeek', partition: 0, offset: i },
    attributes: {},
  };
}

describe('writer with ClickHouse going away (real broker, chDB behind a fault injector)', () => {
  const path = mkdtempSync(join(tmpdir(), 'mamori-writer-faults-'));
  const registry = createRegistry();
  let transport: Transport;
  let admin: Admin;
  let storage: FaultInjectingStorage;
  let stage: WriterStage;
  let runner: StageRunner;
  let producer: ReturnType<Transport['producer']>;
  const produced: string[] = [];

  const stored = async (): Promise<{ n: number; distinct: number; ids: Set<string> }> => {
    const rows = await storage.query<{ event_id: string }>(`SELECT event_id FROM ${database}.events WHERE org_id = 'org-faults'`);
    const ids = new Set(rows.map((r) => r.event_id));
    return { n: rows.length, distinct: ids.size, ids };
  };
  const offsets = async (): Promise<{ end: Map<number, string>; committed: Map<number, string> }> => {
    const [end, committed] = await Promise.all([admin.endOffsets(topics.events), admin.committedOffsets(groupId, topics.events)]);
    return { end: new Map(end.map((e) => [e.partition, e.offset])), committed: new Map(committed.map((c) => [c.partition, c.offset])) };
  };
  const caughtUp = async (): Promise<boolean> => {
    const { end, committed } = await offsets();
    return [...end].every(([p, o]) => o === '0' || committed.get(p) === o);
  };
  const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const metric = async (name: string): Promise<number> => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return values.reduce((sum, v) => sum + v.value, 0);
  };
  const produce = async (events: MamoriEvent[]): Promise<void> => {
    for (let i = 0; i < events.length; i += 500) {
      // Round-robin over partitions by key so every partition sees the outage.
      await producer.send(topics.events, events.slice(i, i + 500).map((e, j) => ({ key: e.event_id, value: eventCodec.encode(e), partition: (i + j) % PARTITIONS })));
    }
    produced.push(...events.map((e) => e.event_id));
  };

  beforeAll(async () => {
    transport = createKafkajsTransport({ brokers, clientId: `wf-${run}`, logger: silentLogger() });
    admin = transport.admin();
    await admin.connect();
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.ensureTopics([{ topic: topics.events, partitions: PARTITIONS }, { topic: topics.detections }, { topic: topics.dlq }]);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(1_000);
      }
    }
    producer = transport.producer({ clientId: `wf-${run}-producer` });
    await producer.connect();
    storage = new FaultInjectingStorage(createChdbStorage({ path, database }));
    await storage.connect();
    await migrate(storage);
    const config = loadWriterConfig({
      MAMORI_TOPIC_EVENTS: topics.events,
      MAMORI_TOPIC_DETECTIONS: topics.detections,
      WRITER_MAX_BATCH_RECORDS: '500',
      WRITER_BATCH_ROWS: '2000',
      WRITER_FLUSH_INTERVAL_MS: '300',
      WRITER_RETRY_INITIAL_MS: '100',
      WRITER_RETRY_MAX_MS: '800',
    });
    stage = new WriterStage(config, { storage, eventCodec, detectionCodec: new DetectionCodec(), registry });
    runner = new StageRunner({
      stage,
      transport,
      producer,
      registry,
      logger: silentLogger(),
      groupId,
      deadLetterTopic: topics.dlq,
      maxBatchSize: config.maxBatchRecords,
      maxWaitMs: 50,
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.close(10_000).catch(() => undefined);
    await producer?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await storage?.exec(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await storage?.close().catch(() => undefined);
    rmSync(path, { recursive: true, force: true });
  });

  it('stores a first load and commits to the log end', async () => {
    await produce(Array.from({ length: 3_000 }, (_, i) => event(`a-${i}`, i)));
    await waitFor('first load stored and committed', async () => (await stored()).n === 3_000 && (await caughtUp()));
    expect(await metric('mamori_writer_rows_inserted_total')).toBe(3_000);
    expect(await metric('mamori_writer_paused')).toBe(0);
  });

  it('pauses during an outage, commits nothing, then stores every event exactly once', async () => {
    const before = await offsets();
    storage.down = true;
    await produce(Array.from({ length: 3_000 }, (_, i) => event(`b-${i}`, 10_000 + i)));

    await waitFor('the writer to pause', () => stage.isPaused(), 30_000);
    expect(await metric('mamori_writer_paused')).toBe(1);
    expect(await metric('mamori_writer_pauses_total')).toBeGreaterThanOrEqual(1);
    // Hold the outage long enough for several back-offs, then look: nothing committed, nothing stored.
    await waitFor('several failed attempts', () => storage.failedWhileDown >= 4, 30_000);
    await sleep(1_500);
    const during = await offsets();
    expect(during.committed).toEqual(before.committed);
    expect([...during.end.values()].reduce((n, o) => n + Number(o), 0)).toBe(6_000);
    expect((await stored()).n).toBe(3_000);
    expect(await metric('mamori_writer_insert_retries_total')).toBeGreaterThanOrEqual(4);

    // Recovery; the first insert after it reaches ClickHouse but its acknowledgement is lost.
    storage.loseNextAck = true;
    storage.down = false;
    await waitFor('catch-up to the log end', () => caughtUp(), 60_000);
    expect(storage.lostAcks).toBe(1);
    const after = await stored();
    // Exactly once: no duplicate rows even without FINAL (the retried insert was deduplicated).
    expect(after.n).toBe(6_000);
    expect(after.distinct).toBe(6_000);
    expect([...after.ids].sort()).toEqual([...produced].sort());
    const { end, committed } = await offsets();
    expect(committed).toEqual(end);
    expect(stage.isPaused()).toBe(false);
    expect(await metric('mamori_writer_paused')).toBe(0);
  });

  it('dead-letters a row ClickHouse rejects, with the reason, and stores its batch-mates', async () => {
    // `fe80::1%eth0` passes the writer's own address check (Node's isIP accepts zone ids) but
    // ClickHouse's IPv6 parser refuses it: a real engine-side data error.
    const batch = Array.from({ length: 40 }, (_, i) => event(`c-${i}`, 20_000 + i, i === 17 ? 'fe80::1%eth0' : undefined));
    await producer.send(topics.events, batch.map((e) => ({ key: e.event_id, value: eventCodec.encode(e), partition: 0 })));
    await waitFor('the poison batch to be committed', () => caughtUp(), 60_000);
    const ids = (await stored()).ids;
    const mates = batch.filter((_, i) => i !== 17).map((e) => e.event_id);
    expect(mates.every((id) => ids.has(id))).toBe(true);
    expect(ids.has('c-17')).toBe(false);

    const letters: ReturnType<typeof readDeadLetter>[] = [];
    const reader = transport.consumer({ groupId: `wf-${run}-dlq-reader`, topics: [topics.dlq], fromBeginning: true, maxWaitMs: 50 });
    await reader.connect();
    await reader.run(async (b) => {
      for (const m of b.messages) letters.push(readDeadLetter(m));
    });
    await waitFor('the dead letter', () => letters.length >= 1, 30_000);
    await reader.close(5_000);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter).toMatchObject({ stage: 'writer', code: 'CLICKHOUSE_INSERT_FAILED', sourceTopic: topics.events, sourcePartition: 0 });
    expect(letter.reason).toMatch(/IPv6|Code: 632/);
    expect(eventCodec.decode(letter.value!).event_id).toBe('c-17');
  });
});
