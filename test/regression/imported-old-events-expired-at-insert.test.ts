import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEventRetention, insertEvents, migrate, toEventRow } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The events TTL counted from the event's own time, and ClickHouse drops rows whose TTL has already
 * passed at insert, silently: a 2022 log replayed with `mamori import` vanished. Retention now
 * counts from ingestion. Found by the import e2e test.
 */
const dir = mkdtempSync(join(tmpdir(), 'mamori-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('imported old events', () => {
  it('are kept for the retention period after ingestion', async () => {
    const driver = createChdbStorage({ path: dir, database: 'retention_test' });
    await driver.connect();
    try {
      await migrate(driver);
      await applyEventRetention(driver, { defaultDays: 90 });
      const old = Date.UTC(2022, 8, 29, 12);
      await insertEvents(driver, [toEventRow({ eventId: 'old-1', orgId: 'o', time: old, ingestTime: Date.now(), srcIp: '10.0.0.1', dstIp: '10.0.0.2' })]);
      const rows = await driver.query<{ n: string }>('SELECT count() AS n FROM retention_test.events');
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await driver.close();
    }
  });
});
