import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionCodec, EventCodec } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { insertEvents, migrate, toEventRow, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import { WriterStage, loadWriterConfig } from '@mamori/writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The writer applies the configured per-class event retention (WRITER_EVENT_RETENTION_DAYS and
 * WRITER_EVENT_RETENTION_BY_CLASS) to the `events` table before its first insert: events older than
 * their class's retention (counted from ingestion) are gone after a merge, the others stay.
 */
const database = 'mamori_writer_retention';
const dir = mkdtempSync(join(tmpdir(), 'mamori-writer-retention-'));
let storage: StorageDriver;

beforeAll(async () => {
  storage = createChdbStorage({ path: dir, database });
  await storage.connect();
  await migrate(storage);
});
afterAll(async () => {
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('writer event retention', () => {
  it('expires each event class after its configured days, counted from ingestion', async () => {
    const config = loadWriterConfig({ WRITER_EVENT_RETENTION_DAYS: '60', WRITER_EVENT_RETENTION_BY_CLASS: 'network_activity=30,dns_activity=180' });
    const stage = new WriterStage(config, { storage, eventCodec: new EventCodec(), detectionCodec: new DetectionCodec(), registry: createRegistry() });
    // Any batch (here an empty one) applies the retention before it is written.
    await stage.process({ messages: [] });
    await stage.close();

    const day = 86_400_000;
    const now = Date.now();
    const at = (id: string, eventClass: string, ageDays: number) =>
      toEventRow({ eventId: id, orgId: 'org-r', eventClass, time: now - ageDays * day, ingestTime: now - ageDays * day, srcIp: '10.0.0.1', dstIp: '10.0.0.2' });
    await insertEvents(storage, [
      at('net-20d', 'network_activity', 20),
      at('net-40d', 'network_activity', 40),
      at('dns-40d', 'dns_activity', 40),
      at('dns-100d', 'dns_activity', 100),
      at('dns-200d', 'dns_activity', 200),
      at('other-40d', 'http_activity', 40),
      at('other-70d', 'http_activity', 70),
    ]);
    await storage.exec(`OPTIMIZE TABLE ${database}.events FINAL`);
    const rows = await storage.query<{ event_id: string }>(`SELECT event_id FROM ${database}.events ORDER BY event_id`);
    expect(rows.map((r) => r.event_id)).toEqual(['dns-100d', 'dns-40d', 'net-20d', 'other-40d']);
  });
});
