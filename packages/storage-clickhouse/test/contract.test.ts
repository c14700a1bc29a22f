import { describe, it } from 'vitest';
import { runStorageContract } from '@mamori/storage/contract';
import { createClickHouseStorage } from '../src/index.ts';

const url = process.env['CLICKHOUSE_URL'];

if (url === undefined || url === '') {
  describe('storage contract: clickhouse', () => {
    it.skip('needs a ClickHouse server: set CLICKHOUSE_URL (e.g. http://default:@localhost:8123) to run it', () => {});
  });
} else {
  runStorageContract('clickhouse', (database) =>
    createClickHouseStorage({
      url,
      database,
      ...(process.env['CLICKHOUSE_USER'] === undefined ? {} : { username: process.env['CLICKHOUSE_USER'] }),
      ...(process.env['CLICKHOUSE_PASSWORD'] === undefined ? {} : { password: process.env['CLICKHOUSE_PASSWORD'] }),
    }),
  );
}
