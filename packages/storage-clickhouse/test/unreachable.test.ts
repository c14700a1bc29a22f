import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StorageError } from '@mamori/storage';
import { createClickHouseStorage } from '../src/index.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('ClickHouse storage without a server', () => {
  it('fails connect with CLICKHOUSE_UNREACHABLE naming the URL without credentials', async () => {
    const port = await closedPort();
    const storage = createClickHouseStorage({ url: `http://mamori:secret@127.0.0.1:${port}`, database: 'mamori' });
    const error = await storage.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'CLICKHOUSE_UNREACHABLE', retryable: true });
    expect((error as Error).message).toContain(`http://127.0.0.1:${port}`);
    expect((error as Error).message).not.toContain('secret');
    await expect(storage.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_NOT_CONNECTED' });
    await storage.close();
  });
});
