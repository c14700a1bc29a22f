import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageError } from '@mamori/storage';
import { createChdbStorage, openChdbPath } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'mamori-chdb-registry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('chDB session registry', () => {
  it('shares one session per process and refuses a second data directory', async () => {
    const a = createChdbStorage({ path: join(root, 'one'), database: 'a' });
    const b = createChdbStorage({ path: join(root, 'one'), database: 'b' });
    expect(openChdbPath()).toBeUndefined();
    await a.connect();
    await b.connect();
    expect(openChdbPath()).toBe(join(root, 'one'));

    const other = createChdbStorage({ path: join(root, 'two') });
    const error = await other.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'CHDB_PATH_CONFLICT', retryable: false });
    expect((error as Error).message).toContain(join(root, 'one'));
    expect((error as Error).message).toContain(join(root, 'two'));

    // Both drivers see the same engine: a table created through one is visible through the other.
    await a.exec('CREATE DATABASE IF NOT EXISTS shared_db');
    await a.exec('CREATE TABLE shared_db.t (x UInt8) ENGINE = MergeTree ORDER BY x');
    expect(await b.query('SELECT count() AS n FROM system.tables WHERE database = {db:String}', { db: 'shared_db' })).toEqual([{ n: '1' }]);

    // The session stays open until its last user closes.
    await a.close();
    expect(await b.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await b.close();
    expect(openChdbPath()).toBeUndefined();
  });

  it('connects concurrently to the same path without opening twice', async () => {
    const drivers = Array.from({ length: 4 }, () => createChdbStorage({ path: join(root, 'one') }));
    await Promise.all(drivers.map((d) => d.connect()));
    await Promise.all(drivers.map((d) => d.ping()));
    await Promise.all(drivers.map((d) => d.close()));
    expect(openChdbPath()).toBeUndefined();
  });
});

describe('chDB decompressed-block cache', () => {
  it('gives the engine the configured uncompressed cache, and refuses sizes out of range', async () => {
    const storage = createChdbStorage({ path: join(root, 'one'), uncompressedCacheMb: 64 });
    await storage.connect();
    try {
      const rows = await storage.query<{ value: string }>(`SELECT value FROM system.server_settings WHERE name = 'uncompressed_cache_size'`);
      expect(rows).toEqual([{ value: String(64 * 1024 * 1024) }]);
    } finally {
      await storage.close();
    }
    for (const bad of [-1, 1.5, 2_000_000]) {
      expect(() => createChdbStorage({ path: join(root, 'one'), uncompressedCacheMb: bad })).toThrow(StorageError);
    }
  });
});
